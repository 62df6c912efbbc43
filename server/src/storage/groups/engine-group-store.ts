/**
 * A {@link GroupStore} whose groups run in this process on the shared
 * {@link GroupEngine}, over an event source and a persistence. The memory
 * and SQLite backends use it; a backend with its own consumer machinery
 * implements `GroupStore` directly.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import { compilePatterns } from "@protobus/sdk/internal";
import { limitExceeded, notFound } from "../../errors.js";
import { MemoryBudget } from "../memory-budget.js";
import {
  type DeadLetter,
  type DeadLetterQuery,
  type DeadLetterSelection,
  type GroupDefinition,
  type GroupHandle,
  type GroupStats,
  type GroupStore,
  type OpenGroupRequest,
} from "../group-store.js";
import { definitionDiffers, groupDefinitionConflict, mergeSettings, newGroupDefinition, settingsChanged } from "./group-definition.js";
import { brokenGroupError, brokenStats, definitionProblem, type BrokenGroup } from "./broken-group.js";
import { readDeadLetters } from "./dead-letter-reader.js";
import type { EventSource } from "./event-source.js";
import { DEFAULT_COMMIT_ACKS, DEFAULT_COMMIT_INTERVAL_MS, GroupEngine, type GroupEngineOptions } from "./group-engine.js";
import { zeroCounters, type GroupPersistence, type PersistedGroup } from "./group-persistence.js";
import { DEFAULT_GROUP_READ_AHEAD_BYTES } from "./group-memory.js";

/** Options of {@link EngineGroupStore}. */
export interface EngineGroupStoreOptions {
  /** Most undelivered events a group holds in memory (default 10,000). */
  readonly lookahead?: number;
  /** Clock in ms; tests may pin it. */
  readonly now?: () => number;
  /** Longest time, in ms, an unconfirmed ack stays uncommitted (default 50). */
  readonly commitIntervalMs?: number;
  /** Most bytes a group reads ahead (default {@link DEFAULT_GROUP_READ_AHEAD_BYTES}). */
  readonly readAheadBytes?: number;
  /** The server's memory budget (default: one of this store's own, {@link defaultMemoryBudget}). */
  readonly budget?: MemoryBudget;
  /** Most groups loaded (with members, or opened) at once (default {@link DEFAULT_MAX_GROUPS}). */
  readonly maxGroups?: number;
}

/** The memory settings of a backend's consumer groups, as a backend's options name them. */
export interface GroupMemoryOptions {
  /** Most bytes a group reads ahead (`--group-read-ahead-bytes`). */
  readonly groupReadAheadBytes?: number;
  /** The server's memory budget (`--memory-budget`), shared with the bus's subscriptions. */
  readonly memoryBudget?: MemoryBudget;
  /** Most groups loaded at once (`--max-groups`). */
  readonly maxGroups?: number;
}

/** Just the {@link GroupMemoryOptions} of a larger settings object (the ones that are set). */
export function pickGroupMemory(settings: GroupMemoryOptions): GroupMemoryOptions {
  return {
    ...(settings.groupReadAheadBytes !== undefined ? { groupReadAheadBytes: settings.groupReadAheadBytes } : {}),
    ...(settings.memoryBudget !== undefined ? { memoryBudget: settings.memoryBudget } : {}),
    ...(settings.maxGroups !== undefined ? { maxGroups: settings.maxGroups } : {}),
  };
}

/** {@link EngineGroupStoreOptions} out of a backend's {@link GroupMemoryOptions}. */
export function groupStoreOptions(options: GroupMemoryOptions): EngineGroupStoreOptions {
  return {
    ...(options.groupReadAheadBytes !== undefined ? { readAheadBytes: options.groupReadAheadBytes } : {}),
    ...(options.memoryBudget !== undefined ? { budget: options.memoryBudget } : {}),
    ...(options.maxGroups !== undefined ? { maxGroups: options.maxGroups } : {}),
  };
}

/** Default of `--max-groups`. */
export const DEFAULT_MAX_GROUPS = 10_000;

/**
 * Consumer groups run by the in-process engine. A group's engine (its
 * read-ahead, its in-flight deliveries) is loaded when it is opened and
 * stopped when its last member leaves, so a stored group nobody uses costs
 * its definition only; `list` and `get` read such a group from the
 * persistence without loading it.
 */
export class EngineGroupStore implements GroupStore {
  readonly #source: EventSource;
  readonly #persistence: GroupPersistence;
  readonly #options: GroupEngineOptions;
  readonly #maxGroups: number;
  /** Every stored group that can run, loaded or not. */
  readonly #stored = new Map<string, GroupDefinition>();
  /** The groups loaded now. */
  readonly #engines = new Map<string, GroupEngine>();
  /** Stored groups that did not load, by name. */
  readonly #broken = new Map<string, BrokenGroup>();
  #closed = false;

  constructor(source: EventSource, persistence: GroupPersistence, options: EngineGroupStoreOptions = {}) {
    this.#source = source;
    this.#persistence = persistence;
    this.#maxGroups = options.maxGroups ?? DEFAULT_MAX_GROUPS;
    this.#options = {
      lookahead: options.lookahead ?? 10_000,
      now: options.now ?? Date.now,
      commitIntervalMs: options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS,
      commitAcks: DEFAULT_COMMIT_ACKS,
      readAheadBytes: options.readAheadBytes ?? DEFAULT_GROUP_READ_AHEAD_BYTES,
      budget: options.budget ?? new MemoryBudget(),
    };
    for (const persisted of persistence.loadAll()) {
      const definition = persisted.definition;
      // A definition that no longer compiles (a filter over today's limits, or too deep to parse) breaks its group only.
      const problem = persisted.problem ?? definitionProblem(definition);
      if (problem !== undefined) this.#broken.set(definition.name, { definition, counters: persisted.counters, reason: problem });
      else this.#stored.set(definition.name, definition);
    }
  }

  loadProblems(): Array<{ name: string; reason: string }> {
    return [...this.#broken.values()].map((b) => ({ name: b.definition.name, reason: b.reason }));
  }

  async open(request: OpenGroupRequest): Promise<GroupHandle> {
    this.#assertOpen();
    const broken = this.#broken.get(request.name);
    if (broken !== undefined) throw brokenGroupError(broken);
    const stored = this.#stored.get(request.name);
    const engine = stored === undefined ? this.#create(request) : this.#reopen(stored, request);
    engine.reserveJoin();
    return engine;
  }

  /** The engine of a stored group, with the request's settings applied. */
  #reopen(definition: GroupDefinition, request: OpenGroupRequest): GroupEngine {
    if (definitionDiffers(definition, request)) throw groupDefinitionConflict(definition);
    const engine = this.#engines.get(request.name) ?? this.#load(request.name);
    if (settingsChanged(definition.settings, request.settings)) {
      const settings = mergeSettings(definition.settings, request.settings);
      this.#persistence.updateSettings(request.name, settings);
      this.#stored.set(request.name, { ...definition, settings });
      engine.updateSettings(settings);
    }
    return engine;
  }

  /** Creates a group and loads its engine. */
  #create(request: OpenGroupRequest): GroupEngine {
    this.#assertRoom(request.name);
    const definition = newGroupDefinition(request, new Date(this.#options.now()));
    const floor = Number(request.startAfter);
    this.#persistence.create(definition, floor);
    this.#stored.set(definition.name, definition);
    return this.#start({ definition, floor, counters: zeroCounters(), settled: [], deadAboveFloor: [], retries: [] });
  }

  /** Loads a stored group's engine from the persistence. */
  #load(name: string): GroupEngine {
    this.#assertRoom(name);
    const persisted = this.#persistence.load(name);
    if (persisted === undefined) throw notFound("consumer group", name);
    return this.#start(persisted);
  }

  #start(persisted: PersistedGroup): GroupEngine {
    const name = persisted.definition.name;
    const engine: GroupEngine = new GroupEngine(this.#source, this.#persistence, persisted, {
      ...this.#options,
      onIdle: () => this.#unload(name, engine),
    });
    this.#engines.set(name, engine);
    return engine;
  }

  /** Stops an engine nobody uses: what it holds goes back to the budget, its state is in the persistence. */
  #unload(name: string, engine: GroupEngine): void {
    if (this.#closed || this.#engines.get(name) !== engine || !engine.idle) return;
    this.#engines.delete(name);
    engine.shutdown();
  }

  /** RESOURCE_EXHAUSTED naming `max-groups` when one more group cannot be loaded. */
  #assertRoom(name: string): void {
    if (this.#engines.size < this.#maxGroups) return;
    throw limitExceeded({
      limit: "max-groups",
      value: this.#maxGroups,
      subject: name,
      description: `${this.#maxGroups} consumer groups are in use on this server; close members of groups no longer needed, or retry later`,
    });
  }

  async list(): Promise<GroupStats[]> {
    this.#assertOpen();
    const names = [...this.#stored.keys(), ...this.#broken.keys()].sort();
    const out: GroupStats[] = [];
    for (const name of names) {
      const stats = await this.get(name);
      if (stats !== undefined) out.push(stats);
      // One group per turn of the event loop: a long list does not hold up other calls.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  }

  async get(name: string): Promise<GroupStats | undefined> {
    this.#assertOpen();
    const broken = this.#broken.get(name);
    if (broken !== undefined) return brokenStats(broken, this.#persistence.countDead(name));
    const engine = this.#engines.get(name);
    if (engine !== undefined) return engine.stats();
    return this.#stored.has(name) ? this.#storedStats(name) : undefined;
  }

  /** The stats of a group that is not loaded, from the persistence: no members, nothing in flight. */
  async #storedStats(name: string): Promise<GroupStats | undefined> {
    const persisted = this.#persistence.load(name);
    if (persisted === undefined) return undefined;
    const unread = await this.#source.countAfter(persisted.floor, compilePatterns(persisted.definition.patterns));
    return {
      definition: persisted.definition,
      members: 0,
      backlog: Math.max(0, unread - persisted.settled.length - persisted.deadAboveFloor.length),
      inFlight: 0,
      deadLetters: this.#persistence.countDead(name),
      ...persisted.counters,
    };
  }

  async delete(name: string): Promise<boolean> {
    this.#assertOpen();
    if (this.#broken.delete(name)) {
      this.#persistence.delete(name);
      return true;
    }
    if (!this.#stored.delete(name)) return false;
    const engine = this.#engines.get(name);
    this.#engines.delete(name);
    engine?.markDeleted();
    this.#persistence.delete(name);
    return true;
  }

  async listDeadLetters(name: string, query: DeadLetterQuery): Promise<DeadLetter[]> {
    this.#assertOpen();
    // A broken group's dead letters stay readable; an unloaded group's are read without loading it.
    if (this.#broken.has(name)) return readDeadLetters(this.#persistence, this.#source, name, query);
    const engine = this.#engines.get(name);
    if (engine !== undefined) return engine.listDeadLetters(query);
    if (!this.#stored.has(name)) throw notFound("consumer group", name);
    return readDeadLetters(this.#persistence, this.#source, name, query);
  }

  async redrive(name: string, selection: DeadLetterSelection): Promise<number> {
    const broken = this.#broken.get(name);
    if (broken !== undefined) throw brokenGroupError(broken);
    return this.#withEngine(name, (engine) => engine.redrive(selection));
  }

  async purge(name: string, selection: DeadLetterSelection): Promise<number> {
    if (this.#broken.has(name)) return this.#persistence.takeDead(name, "all" in selection ? selection : { sequences: selection.sequences.map(Number) }).length;
    return this.#withEngine(name, async (engine) => engine.purge(selection));
  }

  /** Stops every engine, writing what is pending. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const engine of this.#engines.values()) engine.shutdown();
  }

  /** Runs `fn` on a group's engine, loading it for the call when it is not loaded. */
  async #withEngine<T>(name: string, fn: (engine: GroupEngine) => Promise<T>): Promise<T> {
    this.#assertOpen();
    if (!this.#stored.has(name)) throw notFound("consumer group", name);
    const engine = this.#engines.get(name) ?? this.#load(name);
    engine.reserveJoin();
    try {
      return await fn(engine);
    } finally {
      await engine.close();
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ProtobusError(Code.UNAVAILABLE, "the store is closed");
  }
}
