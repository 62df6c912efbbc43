/**
 * A consumer group as one of several protobus servers sharing a backend
 * sees it. Exactly one server at a time runs the group (it holds the
 * group's lease, see {@link GroupCoordinator}): there the shared group
 * engine works on the state the backend keeps, and the server answers other
 * servers' forwarded operations for the group. On any other server the
 * handle forwards every operation to that owner ({@link RemoteGroup}). When
 * the owner goes away (shut down: lease released; died: lease runs out) the
 * next server that needs the group takes it over and continues from the
 * stored state.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import type { ForwardRequest } from "@protobus/sdk/internal";
import type {
  AckOptions,
  DeadLetter,
  DeadLetterQuery,
  DeadLetterSelection,
  GroupDefinition,
  GroupDelivery,
  GroupHandle,
  GroupSettings,
  GroupStats,
  NackOptions,
} from "../group-store.js";
import type { MemoryBudget } from "../memory-budget.js";
import { GroupSignals } from "./group-signals.js";
import type { StoredEvent } from "../stored-event.js";
import type { EventSource } from "./event-source.js";
import { answerForwarded, type ForwardTarget } from "./forwarded-operations.js";
import { OwnerUnreachableError, type GroupCoordinator, type HeldLease } from "./group-coordinator.js";
import { DEFAULT_COMMIT_ACKS, DEFAULT_COMMIT_INTERVAL_MS, GroupEngine } from "./group-engine.js";
import type { GroupPersistence, PersistedGroup } from "./group-persistence.js";
import { RemoteGroup } from "./remote-group.js";

/** A group's state, loaded to run it on this server. */
export interface OwnedGroupState {
  readonly persistence: GroupPersistence & {
    /** Resolves once what was committed is stored. */
    flushed(): Promise<void>;
    /** Stops writing (after `flushed`, on shutdown or loss). */
    close(): void;
  };
  readonly persisted: PersistedGroup;
}

/** What every coordinated group of one server shares. */
export interface CoordinatedGroupParts {
  readonly coordinator: GroupCoordinator;
  readonly source: EventSource;
  /** Most undelivered events an engine holds in memory. */
  readonly lookahead: number;
  /** Most bytes an engine reads ahead. */
  readonly readAheadBytes: number;
  /** The server's memory budget, shared by read-ahead and unacked deliveries. */
  readonly budget: MemoryBudget;
  /** Time to live of a group lease, in ms. */
  readonly leaseTtlMs: number;
  /** How long a forwarded operation waits for the owner, in ms. */
  readonly requestTimeoutMs: number;
  /**
   * Loads the group's state to run it here, fencing off an earlier owner;
   * `onLost` runs when another server took the state over. Rejects with
   * NOT_FOUND when the group was deleted.
   */
  loadState(definition: GroupDefinition, onLost: () => void): Promise<OwnedGroupState>;
}

interface Local {
  readonly kind: "local";
  readonly engine: GroupEngine;
  readonly state: OwnedGroupState["persistence"];
  readonly lease: HeldLease;
  readonly stopServing: () => void;
}

interface Remote {
  readonly kind: "remote";
  readonly group: RemoteGroup;
}

/** A delivery made through the owner to a member attached here. */
interface Forwarded {
  readonly member: string;
  readonly delivery: GroupDelivery;
}

const POLL_MS = 1000;
const NOT_OWNER = "this protobus server no longer runs the consumer group";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isNotOwner(error: unknown): boolean {
  return error instanceof ProtobusError && error.code === Code.UNAVAILABLE && error.rawMessage === NOT_OWNER;
}

/**
 * Tells `onActed` about the deliveries an owner says an ack or nack acted
 * on, from those forwarded here; an owner that does not say acted on all.
 */
function tellActed(ids: readonly string[] | undefined, forwarded: ReadonlyMap<string, GroupDelivery>, onActed: ((delivery: GroupDelivery) => void) | undefined): void {
  if (onActed === undefined) return;
  for (const id of ids ?? [...forwarded.keys()]) {
    const delivery = forwarded.get(id);
    if (delivery !== undefined) onActed(delivery);
  }
}

/** A group on one server: run here, or forwarded to the server that runs it. */
export class CoordinatedGroup implements GroupHandle {
  #definition: GroupDefinition;
  readonly #parts: CoordinatedGroupParts;
  readonly #signals = new GroupSignals();
  /** Members attached through this server. */
  readonly #members = new Set<string>();
  /** Forwarded deliveries not yet settled, by delivery id. */
  readonly #forwarded = new Map<string, Forwarded>();
  #mode: Local | Remote | undefined;
  #deciding: Promise<Local | Remote> | undefined;
  #stopReadyListener: (() => void) | undefined;
  #poll: NodeJS.Timeout | undefined;
  #announceScheduled = false;
  #deleted = false;
  #closed = false;

  constructor(definition: GroupDefinition, parts: CoordinatedGroupParts) {
    this.#definition = definition;
    this.#parts = parts;
    this.#stopReadyListener = parts.coordinator.onReady(definition.name, () => this.#signals.ready());
  }

  get definition(): GroupDefinition {
    return this.#definition;
  }

  /** True once the group was deleted. */
  get deleted(): boolean {
    return this.#deleted;
  }

  /** True once this server runs the group. */
  get owned(): boolean {
    return this.#mode?.kind === "local";
  }

  /** Decides where the group runs: here when its lease is free, else at its owner. */
  async ensure(): Promise<Local | Remote> {
    this.#assertLive();
    if (this.#mode !== undefined) return this.#mode;
    this.#deciding ??= this.#decide().finally(() => {
      this.#deciding = undefined;
    });
    return this.#deciding;
  }

  /** Applies settings stored by the caller. */
  async applySettings(settings: GroupSettings): Promise<void> {
    this.#definition = { ...this.#definition, settings };
    await this.#call(
      async (local) => {
        local.engine.updateSettings(settings);
        local.state.updateSettings(this.#definition.name, settings);
      },
      (remote) => remote.updateSettings(settings),
    );
  }

  join(memberId: string): void {
    this.#members.add(memberId);
    const mode = this.#mode;
    if (mode?.kind === "local") mode.engine.join(memberId);
    else this.#call(async () => undefined, (remote) => remote.join(memberId)).catch(() => undefined);
  }

  async leave(memberId: string): Promise<void> {
    this.#members.delete(memberId);
    for (const [id, forwarded] of this.#forwarded) if (forwarded.member === memberId) this.#forwarded.delete(id);
    if (this.#deleted || this.#closed) return;
    await this.#call(
      (local) => local.engine.leave(memberId),
      (remote) => remote.leave(memberId),
    );
  }

  async claim(memberId: string, max: number, maxBytes?: number): Promise<GroupDelivery[]> {
    const bounded = maxBytes !== undefined && Number.isFinite(maxBytes);
    const deliveries = await this.#call(
      (local) => local.engine.claim(memberId, max, maxBytes),
      (remote) => remote.claim(memberId, max, bounded ? maxBytes : undefined),
      // The owner cannot be reached now: nothing is claimable; try again soon.
      () => {
        setTimeout(() => this.#signals.ready(), POLL_MS).unref();
        return [];
      },
    );
    if (this.#mode?.kind === "remote") for (const d of deliveries) this.#forwarded.set(d.deliveryId, { member: memberId, delivery: d });
    return deliveries;
  }

  inFlightOf(memberId: string): number {
    const mode = this.#mode;
    if (mode?.kind === "local") return mode.engine.inFlightOf(memberId) + this.#forwardedOf(memberId);
    return this.#forwardedOf(memberId);
  }

  inFlightBytesOf(memberId: string): number {
    const mode = this.#mode;
    const local = mode?.kind === "local" ? mode.engine.inFlightBytesOf(memberId) : 0;
    let forwarded = 0;
    for (const f of this.#forwarded.values()) if (f.member === memberId) forwarded += f.delivery.stored.bytes.byteLength;
    return local + forwarded;
  }

  async ack(deliveryIds: readonly string[], options: AckOptions = {}): Promise<void> {
    const forwarded = this.#settleForwarded(deliveryIds);
    const confirm = options.confirm ?? true;
    await this.#call(
      (local) => local.engine.ack(deliveryIds, options),
      async (remote) => tellActed(await remote.ack(deliveryIds, confirm), forwarded, options.onActed),
      () => undefined,
    );
  }

  async nack(deliveryIds: readonly string[], options: NackOptions): Promise<void> {
    const forwarded = this.#settleForwarded(deliveryIds);
    const { onActed, ...wireOptions } = options;
    await this.#call(
      (local) => local.engine.nack(deliveryIds, options),
      async (remote) => tellActed(await remote.nack(deliveryIds, wireOptions), forwarded, onActed),
      () => undefined,
    );
  }

  async extend(deliveryIds: readonly string[], extensionMs: number): Promise<void> {
    await this.#call(
      (local) => local.engine.extend(deliveryIds, extensionMs),
      (remote) => remote.extend(deliveryIds, extensionMs),
    );
  }

  onReady(listener: () => void): () => void {
    return this.#signals.onReady(listener);
  }

  onDeadLetter(listener: (stored: StoredEvent) => void): () => void {
    return this.#signals.onDeadLetter(listener);
  }

  async close(): Promise<void> {
    // Handles are shared per group; the store shuts them down.
  }

  /** Counters and gauges, from wherever the group runs. */
  stats(): Promise<GroupStats> {
    return this.#call(
      (local) => local.engine.stats(),
      (remote) => remote.stats(),
    );
  }

  /** Dead letters, from wherever the group runs. */
  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.#call(
      (local) => local.engine.listDeadLetters(query),
      (remote) => remote.listDeadLetters(query),
    );
  }

  /** Moves dead letters back into the group. */
  redrive(selection: DeadLetterSelection): Promise<number> {
    return this.#call(
      (local) => local.engine.redrive(selection),
      (remote) => remote.redrive(selection),
    );
  }

  /** Drops dead letters. */
  purge(selection: DeadLetterSelection): Promise<number> {
    return this.#call(
      async (local) => {
        const count = await local.engine.purge(selection);
        await local.state.flushed();
        return count;
      },
      (remote) => remote.purge(selection),
    );
  }

  /** The group was deleted: tell its owner, then end this handle. */
  async delete(): Promise<void> {
    const mode = this.#mode;
    if (mode?.kind === "remote") await mode.group.deleted().catch(() => undefined);
    this.#markDeleted();
  }

  /** Stops running or forwarding the group here; an owned group's state is written and its lease released. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopReady();
    this.#stopPoll();
    await this.#deciding?.catch(() => undefined);
    const mode = this.#mode;
    this.#mode = undefined;
    if (mode?.kind === "local") await this.#stopLocal(mode, true);
  }

  #markDeleted(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    const mode = this.#mode;
    this.#mode = undefined;
    this.#stopReady();
    this.#stopPoll();
    if (mode?.kind === "local") {
      mode.stopServing();
      mode.lease.abandon();
      mode.state.close();
      mode.engine.markDeleted();
    }
    this.#signals.ready();
  }

  async #decide(): Promise<Local | Remote> {
    const { coordinator } = this.#parts;
    const name = this.#definition.name;
    // Answer forwarded operations before the lease names this server, so
    // that other servers never find the owner without a responder
    // (operations that come before the group is loaded are told to retry).
    const stopServing = await coordinator.serve(name, (request) => this.#serve(request));
    let outcome;
    try {
      outcome = await coordinator.acquire(name, () => this.#demote());
    } catch (error) {
      stopServing();
      throw error;
    }
    if (outcome.kind === "held") {
      stopServing();
      return this.#becomeRemote(new RemoteGroup(coordinator, outcome.owner));
    }
    let owned: OwnedGroupState;
    try {
      owned = await this.#parts.loadState(this.#definition, () => this.#demote());
    } catch (error) {
      stopServing();
      await outcome.lease.release();
      if (error instanceof ProtobusError && error.code === Code.NOT_FOUND) this.#markDeleted();
      throw error;
    }
    return this.#becomeLocal(owned, outcome.lease, stopServing);
  }

  #becomeRemote(group: RemoteGroup): Remote {
    const remote: Remote = { kind: "remote", group };
    this.#mode = remote;
    this.#startPoll();
    for (const member of this.#members) group.join(member).catch(() => undefined);
    return remote;
  }

  async #becomeLocal(owned: OwnedGroupState, lease: HeldLease, stopServing: () => void): Promise<Local> {
    const engine = new GroupEngine(this.#parts.source, owned.persistence, owned.persisted, {
      lookahead: this.#parts.lookahead,
      readAheadBytes: this.#parts.readAheadBytes,
      budget: this.#parts.budget,
      now: Date.now,
      commitIntervalMs: DEFAULT_COMMIT_INTERVAL_MS,
      commitAcks: DEFAULT_COMMIT_ACKS,
    });
    engine.onReady(() => {
      this.#signals.ready();
      this.#announce();
    });
    engine.onDeadLetter((stored) => {
      this.#signals.deadLettered(stored);
    });
    for (const member of this.#members) engine.join(member);
    // Deliveries forwarded from an earlier owner are its business no more.
    this.#forwarded.clear();
    const local: Local = { kind: "local", engine, state: owned.persistence, lease, stopServing };
    this.#stopPoll();
    this.#mode = local;
    if (this.#closed || this.#deleted) {
      this.#mode = undefined;
      await this.#stopLocal(local, true);
      this.#assertLive();
    }
    // Wake the members: their forwarded windows were just emptied and the
    // group's backlog is only read on a claim, so a member whose window was
    // full while the old owner was gone would otherwise never claim again.
    queueMicrotask(() => this.#signals.ready());
    return local;
  }

  /** Another server took the group over: stop running it here and forward from now on. */
  #demote(): void {
    const mode = this.#mode;
    if (mode?.kind !== "local") return;
    this.#mode = undefined;
    void this.#stopLocal(mode, false);
    this.#signals.ready();
  }

  async #stopLocal(local: Local, release: boolean): Promise<void> {
    local.stopServing();
    local.engine.shutdown();
    if (release) {
      await local.state.flushed().catch(() => undefined);
      local.state.close();
      await local.lease.release();
    } else {
      local.state.close();
      local.lease.abandon();
    }
  }

  /**
   * Runs an operation where the group runs. `unreachable` answers when the
   * owner cannot be reached and its lease has not run out yet; without it
   * the call waits for the lease to run out (and takes the group over).
   */
  async #call<T>(local: (local: Local) => Promise<T>, remote: (remote: RemoteGroup) => Promise<T>, unreachable?: () => T): Promise<T> {
    const deadline = Date.now() + this.#parts.leaseTtlMs + this.#parts.requestTimeoutMs;
    for (;;) {
      const mode = await this.ensure();
      if (mode.kind === "local") return local(mode);
      try {
        return await remote(mode.group);
      } catch (error) {
        if (!(error instanceof OwnerUnreachableError) && !isNotOwner(error)) throw error;
        if (this.#mode === mode) {
          this.#mode = undefined;
          this.#stopPoll();
        }
        if (unreachable !== undefined && !isNotOwner(error)) return unreachable();
        if (Date.now() > deadline) {
          throw new ProtobusError(Code.UNAVAILABLE, `the protobus server running consumer group '${this.#definition.name}' does not answer; retry`);
        }
        await sleep(isNotOwner(error) ? 10 : 250);
      }
    }
  }

  /** Answers an operation forwarded by another server. */
  #serve(request: ForwardRequest) {
    const mode = this.#mode;
    const target: ForwardTarget | undefined =
      mode?.kind !== "local"
        ? undefined
        : {
            engine: mode.engine,
            flushed: () => mode.state.flushed(),
            updateSettings: (settings) => {
              this.#definition = { ...this.#definition, settings };
              mode.engine.updateSettings(settings);
            },
            markDeleted: () => this.#markDeleted(),
          };
    return answerForwarded(request, target, NOT_OWNER);
  }

  /**
   * Forgets settled forwarded deliveries. Their members have room again:
   * they are woken, since an owner that went away announces nothing and a
   * member with a full window would otherwise wait for a takeover that only
   * its own claims bring about.
   */
  #settleForwarded(deliveryIds: readonly string[]): Map<string, GroupDelivery> {
    const freed = new Map<string, GroupDelivery>();
    for (const id of deliveryIds) {
      const forwarded = this.#forwarded.get(id);
      if (forwarded === undefined) continue;
      this.#forwarded.delete(id);
      freed.set(id, forwarded.delivery);
    }
    if (freed.size > 0) queueMicrotask(() => this.#signals.ready());
    return freed;
  }

  #forwardedOf(memberId: string): number {
    let count = 0;
    for (const forwarded of this.#forwarded.values()) if (forwarded.member === memberId) count += 1;
    return count;
  }

  /** Tells members on other servers that something may be claimable (coalesced per tick). */
  #announce(): void {
    if (this.#announceScheduled) return;
    this.#announceScheduled = true;
    setImmediate(() => {
      this.#announceScheduled = false;
      if (this.#mode?.kind === "local") this.#parts.coordinator.announceReady(this.#definition.name);
    });
  }

  /** Announcements are at most once: forwarding members also look again every second. */
  #startPoll(): void {
    if (this.#poll !== undefined) return;
    this.#poll = setInterval(() => {
      if (this.#members.size > 0) this.#signals.ready();
    }, POLL_MS);
    this.#poll.unref();
  }

  #stopPoll(): void {
    if (this.#poll !== undefined) clearInterval(this.#poll);
    this.#poll = undefined;
  }

  #stopReady(): void {
    this.#stopReadyListener?.();
    this.#stopReadyListener = undefined;
  }

  #assertLive(): void {
    if (this.#deleted) throw new ProtobusError(Code.NOT_FOUND, `consumer group '${this.#definition.name}' was deleted`);
    if (this.#closed) throw new ProtobusError(Code.UNAVAILABLE, "the store is closed");
  }
}
