/**
 * Consumer groups on JetStream. A group's definition and state live in the
 * groups KV bucket (`def.<group>`, `state.<group>`, `lease.<group>`), its
 * dead letters in the dead-letter stream; one protobus server at a time runs
 * it on the shared group engine and the others forward to it (a
 * `CoordinatedGroup` per group, with the NATS coordinator of
 * nats-group-coordinator.ts). Any server can open, list, inspect, redrive,
 * purge and delete any group.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { FailureLog } from "../failure-log.js";
import {
  DEFAULT_GROUP_SETTINGS,
  type DeadLetter,
  type DeadLetterQuery,
  type DeadLetterSelection,
  type GroupDefinition,
  type GroupHandle,
  type GroupSettings,
  type GroupStats,
  type GroupStore,
  type OpenGroupRequest,
} from "../group-store.js";
import { definitionDiffers, groupDefinitionConflict, mergeSettings, newGroupDefinition, settingsChanged } from "../groups/group-definition.js";
import { brokenGroupError, brokenStats, definitionProblem, type BrokenGroup } from "../groups/broken-group.js";
import { zeroCounters, type GroupCounters } from "../groups/group-persistence.js";
import { notFound } from "../../errors.js";
import { jetstreamError } from "./errors.js";
import { CoordinatedGroup, type CoordinatedGroupParts } from "../groups/coordinated-group.js";
import { JetStreamGroupState, type GroupStateLocation, type StateRecord } from "./group-state.js";
import { leaseKey } from "./nats-group-coordinator.js";
import { groupToken } from "./subjects.js";
import { isRevisionConflict } from "./kv-util.js";

/** Where the groups of one backend live. */
export interface GroupStoreLocation {
  readonly kv: KV;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly readJsm: JetStreamManager;
  readonly dlqStream: string;
  /** The backend's subject prefix. */
  readonly prefix: string;
  /** Where failed writes of the groups' state are logged. */
  readonly failures: FailureLog;
}

interface DefinitionRecord {
  readonly name: string;
  readonly patterns: readonly string[];
  readonly filter: string;
  readonly settings: GroupSettings;
  readonly createdAt: number;
}

const DEF = "def";

function toDefinition(record: DefinitionRecord): GroupDefinition {
  return { ...record, patterns: [...record.patterns], settings: { ...DEFAULT_GROUP_SETTINGS, ...record.settings }, createdAt: new Date(record.createdAt) };
}

/** The {@link GroupStore} of the JetStream backend. */
export class JetStreamGroupStore implements GroupStore {
  readonly #location: GroupStoreLocation;
  readonly #parts: CoordinatedGroupParts;
  readonly #handles = new Map<string, CoordinatedGroup>();
  /** Stored groups seen not to load here, by name. */
  readonly #broken = new Map<string, BrokenGroup>();
  #closed = false;

  constructor(location: GroupStoreLocation, parts: Omit<CoordinatedGroupParts, "loadState">) {
    this.#location = location;
    this.#parts = {
      ...parts,
      loadState: async (definition, onLost) => {
        const { state, persisted } = await JetStreamGroupState.load(this.#stateLocation(definition.name), definition, onLost);
        return { persistence: state, persisted };
      },
    };
  }

  async open(request: OpenGroupRequest): Promise<GroupHandle> {
    this.#assertOpen();
    const { kv } = this.#location;
    const key = `${DEF}.${groupToken(request.name)}`;
    try {
      for (;;) {
        const entry = await kv.get(key);
        if (entry === null || entry.operation !== "PUT") {
          const created = newGroupDefinition(request, new Date());
          const definition: DefinitionRecord = { ...created, createdAt: created.createdAt.getTime() };
          // The state first: a definition is never visible without its state.
          // Servers creating the group at the same time keep the first state
          // written; a state in use is never overwritten.
          const state: StateRecord = { floor: Number(request.startAfter), counters: zeroCounters(), settled: [], retries: [] };
          try {
            await kv.create(this.#stateLocation(request.name).stateKey, JSON.stringify(state));
          } catch (error) {
            if (!isRevisionConflict(error)) throw error;
          }
          try {
            if (entry === null) await kv.create(key, JSON.stringify(definition));
            else await kv.update(key, JSON.stringify(definition), entry.revision);
          } catch (error) {
            if (isRevisionConflict(error)) continue;
            throw error;
          }
          const handle = this.#handle(toDefinition(definition));
          await handle.ensure();
          return handle;
        }
        const stored = this.#read(request.name, entry);
        if ("reason" in stored) throw brokenGroupError(stored);
        const definition = stored;
        if (definitionDiffers(definition, request)) throw groupDefinitionConflict(definition);
        const handle = this.#handle(definition);
        if (settingsChanged(definition.settings, request.settings)) {
          const settings = mergeSettings(definition.settings, request.settings);
          try {
            await kv.update(key, JSON.stringify({ ...entry.json<DefinitionRecord>(), settings }), entry.revision);
          } catch (error) {
            if (isRevisionConflict(error)) continue;
            throw error;
          }
          await handle.applySettings(settings);
        }
        await handle.ensure();
        return handle;
      }
    } catch (error) {
      throw jetstreamError("open consumer group", error);
    }
  }

  async list(): Promise<GroupStats[]> {
    this.#assertOpen();
    const names: string[] = [];
    try {
      for await (const key of await this.#location.kv.keys(`${DEF}.*`)) {
        names.push(Buffer.from(key.slice(DEF.length + 1), "base64url").toString("utf8"));
      }
    } catch (error) {
      throw jetstreamError("list consumer groups", error);
    }
    const stats = await Promise.all(names.sort().map((name) => this.get(name)));
    return stats.filter((s): s is GroupStats => s !== undefined);
  }

  async get(name: string): Promise<GroupStats | undefined> {
    const handle = await this.#find(name);
    if (handle === undefined) return undefined;
    const broken = this.#broken.get(name);
    if (broken !== undefined) return brokenStats({ ...broken, counters: await this.#storedCounters(name) }, 0);
    try {
      return await handle.stats();
    } catch (error) {
      if (error instanceof ProtobusError && error.code === Code.NOT_FOUND) return undefined;
      throw error;
    }
  }

  async delete(name: string): Promise<boolean> {
    const handle = await this.#find(name);
    if (handle === undefined) return false;
    await handle.delete();
    this.#handles.delete(name);
    this.#broken.delete(name);
    const { kv, jsm, dlqStream } = this.#location;
    const state = this.#stateLocation(name);
    try {
      await kv.delete(`${DEF}.${groupToken(name)}`);
      await kv.delete(state.stateKey);
      await kv.delete(leaseKey(name));
      await jsm.streams.purge(dlqStream, { filter: `${state.dlqSubject}.*` });
    } catch (error) {
      throw jetstreamError("delete consumer group", error);
    }
    return true;
  }

  async listDeadLetters(name: string, query: DeadLetterQuery): Promise<DeadLetter[]> {
    return (await this.#existing(name)).listDeadLetters(query);
  }

  async redrive(name: string, selection: DeadLetterSelection): Promise<number> {
    return (await this.#existing(name)).redrive(selection);
  }

  async purge(name: string, selection: DeadLetterSelection): Promise<number> {
    return (await this.#existing(name)).purge(selection);
  }

  /** Writes what the groups run here keep, and releases their leases. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#handles.values()].map((handle) => handle.shutdown()));
    this.#handles.clear();
  }

  async #existing(name: string): Promise<CoordinatedGroup> {
    const handle = await this.#find(name);
    if (handle === undefined) throw notFound("consumer group", name);
    const broken = this.#broken.get(name);
    if (broken !== undefined) throw brokenGroupError(broken);
    return handle;
  }

  /**
   * A stored definition, or the group as broken when it does not read or
   * does not compile here (remembered in `#broken`, and logged by
   * `loadProblems` readers; it is checked when first seen, not at start).
   */
  #read(name: string, entry: { json<T>(): T; revision: number }): GroupDefinition | BrokenGroup {
    let definition: GroupDefinition;
    let reason: string | undefined;
    try {
      definition = toDefinition(entry.json<DefinitionRecord>());
      reason = definitionProblem(definition);
    } catch (error) {
      definition = { name, patterns: [], filter: "", settings: DEFAULT_GROUP_SETTINGS, createdAt: new Date(0) };
      reason = `its stored definition does not read: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (reason === undefined) {
      this.#broken.delete(name);
      return definition;
    }
    const broken: BrokenGroup = { definition, counters: zeroCounters(), reason };
    this.#broken.set(name, broken);
    return broken;
  }

  /** A broken group's counters as its state record keeps them (zeros when that does not read). */
  async #storedCounters(name: string): Promise<GroupCounters> {
    try {
      const entry = await this.#location.kv.get(this.#stateLocation(name).stateKey);
      if (entry === null || entry.operation !== "PUT") return zeroCounters();
      return { ...zeroCounters(), ...entry.json<StateRecord>().counters };
    } catch {
      return zeroCounters();
    }
  }

  loadProblems(): Array<{ name: string; reason: string }> {
    return [...this.#broken.values()].map((b) => ({ name: b.definition.name, reason: b.reason }));
  }

  /** The handle of a stored group, or undefined when there is no such group. */
  async #find(name: string): Promise<CoordinatedGroup | undefined> {
    this.#assertOpen();
    let entry;
    try {
      entry = await this.#location.kv.get(`${DEF}.${groupToken(name)}`);
    } catch (error) {
      throw jetstreamError("read consumer group", error);
    }
    if (entry === null || entry.operation !== "PUT") {
      this.#handles.get(name)?.delete().catch(() => undefined);
      this.#handles.delete(name);
      this.#broken.delete(name);
      return undefined;
    }
    const stored = this.#read(name, entry);
    return this.#handle("reason" in stored ? stored.definition : stored);
  }

  #handle(definition: GroupDefinition): CoordinatedGroup {
    let handle = this.#handles.get(definition.name);
    // A handle of a group deleted (and created again) meanwhile is done.
    if (handle === undefined || handle.deleted) {
      handle = new CoordinatedGroup(definition, this.#parts);
      this.#handles.set(definition.name, handle);
    }
    return handle;
  }

  /** Where a group's state and dead letters are kept. */
  #stateLocation(name: string): GroupStateLocation {
    const t = groupToken(name);
    const { prefix } = this.#location;
    return {
      kv: this.#location.kv,
      js: this.#location.js,
      jsm: this.#location.jsm,
      readJsm: this.#location.readJsm,
      dlqStream: this.#location.dlqStream,
      stateKey: `state.${t}`,
      dlqSubject: `${prefix}.dlq.${t}`,
      failures: this.#location.failures,
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new ProtobusError(Code.UNAVAILABLE, "the jetstream store is closed");
  }
}
