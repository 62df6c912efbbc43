/**
 * One consumer group's state on JetStream, for the shared group engine: the
 * floor, counters, acks above the floor and retry records as one KV entry
 * (`state.<group>` in the groups bucket), and dead letters as messages of
 * the dead-letter stream (`<prefix>.dlq.<group>.<event sequence>`, one per
 * subject). The engine reads an in-memory mirror; every change is written
 * behind it, coalesced, and a commit resolves once its write is durable.
 *
 * Writes are fenced: the state entry is only ever updated at the revision
 * this owner last wrote, so an owner that lost the group to another server
 * fails its next write instead of overwriting the new owner's state.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { FailureLog } from "../failure-log.js";
import type { GroupDefinition, GroupSettings } from "../group-store.js";
import { zeroCounters } from "../groups/group-persistence.js";
import type * as persistence from "../groups/group-persistence.js";
import { MemoryGroupPersistence } from "../groups/memory-group-persistence.js";
import { jetstreamError } from "./errors.js";
import { isRevisionConflict } from "./kv-util.js";
import { scanStream } from "./stream-scan.js";

/** Where a group's state lives. */
export interface GroupStateLocation {
  readonly kv: KV;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** For read consumers (a short timeout, see `addReadConsumer`). */
  readonly readJsm: JetStreamManager;
  /** The dead-letter stream. */
  readonly dlqStream: string;
  /** The group's state key in `kv`. */
  readonly stateKey: string;
  /** The subject prefix of the group's dead letters, `<prefix>.dlq.<group>`. */
  readonly dlqSubject: string;
  /** Where writes that failed and are retried are logged. */
  readonly failures: FailureLog;
}

/** The state entry as stored. */
export interface StateRecord {
  readonly floor: number;
  readonly counters: persistence.GroupCounters;
  readonly settled: readonly number[];
  readonly retries: readonly persistence.RetryRecord[];
}

interface DeadBody {
  readonly attempts: number;
  readonly reason: string;
  readonly deadAt: number;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

/** The error of a write refused because another server owns the group now. */
export function lostOwnership(name: string): ProtobusError {
  return new ProtobusError(Code.UNAVAILABLE, `consumer group '${name}' is now served by another protobus server; retry`);
}

/** Reads a group's dead letters from the dead-letter stream. */
async function loadDead(location: GroupStateLocation): Promise<persistence.DeadRecord[]> {
  const dead: persistence.DeadRecord[] = [];
  await scanStream(location.readJsm, location.js, location.dlqStream, {
    fromSequence: 1n,
    filterSubject: `${location.dlqSubject}.*`,
    maxMessages: Number.MAX_SAFE_INTEGER,
    visit: (message) => {
      const sequence = Number(message.subject.slice(location.dlqSubject.length + 1));
      const body = message.json<DeadBody>();
      dead.push({ sequence, attempts: body.attempts, reason: body.reason, deadAt: body.deadAt });
      return true;
    },
  });
  return dead.sort((a, b) => a.sequence - b.sequence);
}

/** A {@link GroupPersistence} for one group, mirrored in memory and written to JetStream. */
export class JetStreamGroupState implements persistence.GroupPersistence {
  readonly #location: GroupStateLocation;
  readonly #name: string;
  readonly #mirror = new MemoryGroupPersistence();
  readonly #onLost: () => void;
  /** The revision of the state entry this owner wrote last. */
  #revision: number;
  /** Dead-letter stream operations to run before the next state write, in order. */
  #dlqOps: Array<() => Promise<unknown>> = [];
  #dirty = false;
  #writing: Promise<void> | undefined;
  #waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  #lost = false;
  #closed = false;

  private constructor(location: GroupStateLocation, name: string, revision: number, onLost: () => void) {
    this.#location = location;
    this.#name = name;
    this.#revision = revision;
    this.#onLost = onLost;
  }

  /**
   * Loads a group's state and fences off any earlier owner by writing it
   * back at once. Throws `lostOwnership` when another server wrote it meanwhile.
   */
  static async load(
    location: GroupStateLocation,
    definition: GroupDefinition,
    onLost: () => void,
  ): Promise<{ state: JetStreamGroupState; persisted: persistence.PersistedGroup }> {
    const entry = await location.kv.get(location.stateKey);
    if (entry === null || entry.operation !== "PUT") {
      throw new ProtobusError(Code.NOT_FOUND, `consumer group '${definition.name}' does not exist`);
    }
    const record = entry.json<StateRecord>();
    const dead = await loadDead(location);
    const state = new JetStreamGroupState(location, definition.name, entry.revision, onLost);
    state.#mirror.create(definition, record.floor);
    state.#mirror.commit(definition.name, {
      floor: record.floor,
      settled: record.settled,
      retries: record.retries,
      clearedRetries: [],
      dead,
      counters: { ...zeroCounters(), ...record.counters },
    });
    try {
      state.#revision = await location.kv.update(location.stateKey, JSON.stringify(record), entry.revision);
    } catch (error) {
      if (isRevisionConflict(error)) throw lostOwnership(definition.name);
      throw error;
    }
    const persisted = (state.#mirror.loadAll()[0] as persistence.PersistedGroup);
    return { state, persisted };
  }

  loadAll(): persistence.PersistedGroup[] {
    return this.#mirror.loadAll();
  }

  load(name: string): persistence.PersistedGroup | undefined {
    return this.#mirror.load(name);
  }

  create(definition: GroupDefinition, floor: number): void {
    this.#mirror.create(definition, floor);
  }

  updateSettings(name: string, settings: GroupSettings): void {
    this.#mirror.updateSettings(name, settings);
  }

  commit(name: string, batch: persistence.GroupBatch): Promise<void> {
    this.#mirror.commit(name, batch);
    for (const record of batch.dead) {
      const body: DeadBody = { attempts: record.attempts, reason: record.reason, deadAt: record.deadAt };
      this.#dlqOps.push(() => this.#location.js.publish(`${this.#location.dlqSubject}.${record.sequence}`, JSON.stringify(body)));
    }
    return this.#write();
  }

  delete(name: string): void {
    this.#mirror.delete(name);
  }

  listDead(name: string, afterSequence: number, limit: number): persistence.DeadRecord[] {
    return this.#mirror.listDead(name, afterSequence, limit);
  }

  countDead(name: string): number {
    return this.#mirror.countDead(name);
  }

  atomically<T>(fn: () => T): T {
    // Writes are queued in order and the state entry is written whole, so a
    // sequence of changes made in one synchronous block lands together.
    return fn();
  }

  takeDead(name: string, selection: persistence.DeadSelection): persistence.DeadRecord[] {
    const taken = this.#mirror.takeDead(name, selection);
    if (taken.length > 0) {
      const { jsm } = this.#location;
      const stream = this.#location.dlqStream;
      if ("all" in selection) {
        this.#dlqOps.push(() => jsm.streams.purge(stream, { filter: `${this.#location.dlqSubject}.*` }));
      } else {
        for (const record of taken) {
          this.#dlqOps.push(() => jsm.streams.purge(stream, { filter: `${this.#location.dlqSubject}.${record.sequence}` }));
        }
      }
      this.#write().catch(() => undefined);
    }
    return taken;
  }

  /** Resolves once every change made so far is written. */
  flushed(): Promise<void> {
    if (!this.#dirty && this.#writing === undefined) return Promise.resolve();
    return this.#write();
  }

  /** Stops retrying writes (after `flushed`, on shutdown). */
  close(): void {
    this.#closed = true;
  }

  /** Queues a write of the whole state; resolves when one that started after this call succeeded. */
  #write(): Promise<void> {
    if (this.#lost) return Promise.reject(lostOwnership(this.#name));
    this.#dirty = true;
    const promise = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#writing ??= this.#loop().finally(() => {
      this.#writing = undefined;
    });
    return promise;
  }

  async #loop(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (this.#dirty) {
      this.#dirty = false;
      const waiters = this.#waiters;
      this.#waiters = [];
      const ops = this.#dlqOps;
      this.#dlqOps = [];
      const snapshot = this.#mirror.loadAll()[0];
      try {
        for (const op of ops) await op();
        if (snapshot !== undefined) {
          const record: StateRecord = {
            floor: snapshot.floor,
            counters: snapshot.counters,
            settled: snapshot.settled,
            retries: snapshot.retries,
          };
          this.#revision = await this.#location.kv.update(this.#location.stateKey, JSON.stringify(record), this.#revision);
        }
        delay = RETRY_MIN_MS;
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        if (isRevisionConflict(error) || this.#closed) {
          this.#lost = this.#lost || isRevisionConflict(error);
          const failure = this.#lost ? lostOwnership(this.#name) : jetstreamError("write group state", error);
          for (const waiter of [...waiters, ...this.#waiters]) waiter.reject(failure);
          this.#waiters = [];
          this.#dirty = false;
          if (this.#lost) this.#onLost();
          return;
        }
        // The cluster is electing a leader or unreachable: the whole state is
        // written again, so a later attempt supersedes this one.
        this.#location.failures.report(error, `consumer group '${this.#name}'`);
        this.#dlqOps = [...ops, ...this.#dlqOps];
        this.#waiters = [...waiters, ...this.#waiters];
        this.#dirty = true;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  }
}
