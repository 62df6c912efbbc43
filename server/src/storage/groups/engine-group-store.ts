/**
 * A {@link GroupStore} whose groups run in this process on the shared
 * {@link GroupEngine}, over an event source and a persistence. The memory
 * and SQLite backends use it; a backend with its own consumer machinery
 * implements `GroupStore` directly.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import { notFound } from "../../errors.js";
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
import { brokenGroupError, brokenStats, loadFailure, type BrokenGroup } from "./broken-group.js";
import { readDeadLetters } from "./dead-letter-reader.js";
import type { EventSource } from "./event-source.js";
import { DEFAULT_COMMIT_ACKS, DEFAULT_COMMIT_INTERVAL_MS, GroupEngine, type GroupEngineOptions } from "./group-engine.js";
import { zeroCounters, type GroupPersistence } from "./group-persistence.js";

/** Options of {@link EngineGroupStore}. */
export interface EngineGroupStoreOptions {
  /** Most undelivered events a group holds in memory (default 10,000). */
  readonly lookahead?: number;
  /** Clock in ms; tests may pin it. */
  readonly now?: () => number;
  /** Longest time, in ms, an unconfirmed ack stays uncommitted (default 50). */
  readonly commitIntervalMs?: number;
}

/** True when two pattern lists hold the same patterns, in any order. */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** True when `requested` sets a field to a value other than the stored one. */
export function settingsChanged(stored: GroupSettings, requested: Partial<GroupSettings>): boolean {
  return (Object.keys(requested) as Array<keyof GroupSettings>).some((k) => requested[k] !== undefined && requested[k] !== stored[k]);
}

/** The error of opening an existing group with other patterns or another filter. */
export function groupDefinitionConflict(definition: GroupDefinition): ProtobusError {
  return new ProtobusError(
    Code.FAILED_PRECONDITION,
    `consumer group '${definition.name}' exists with patterns [${definition.patterns.join(", ")}]` +
      `${definition.filter === "" ? "" : ` and filter '${definition.filter}'`}; open it with the same ones, or delete it first`,
    [{ type: "PreconditionFailure", value: { violations: [{ type: "GROUP", subject: definition.name, description: "patterns or filter differ" }] } }],
  );
}

/** True when an open request names other patterns or another filter than the stored group. */
export function definitionDiffers(definition: GroupDefinition, request: OpenGroupRequest): boolean {
  return !sameList(definition.patterns, request.patterns) || definition.filter !== request.filter;
}

/** Consumer groups run by the in-process engine. */
export class EngineGroupStore implements GroupStore {
  readonly #source: EventSource;
  readonly #persistence: GroupPersistence;
  readonly #options: GroupEngineOptions;
  readonly #engines = new Map<string, GroupEngine>();
  /** Stored groups that did not load, by name. */
  readonly #broken = new Map<string, BrokenGroup>();
  #closed = false;

  constructor(source: EventSource, persistence: GroupPersistence, options: EngineGroupStoreOptions = {}) {
    this.#source = source;
    this.#persistence = persistence;
    this.#options = {
      lookahead: options.lookahead ?? 10_000,
      now: options.now ?? Date.now,
      commitIntervalMs: options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS,
      commitAcks: DEFAULT_COMMIT_ACKS,
    };
    for (const persisted of persistence.loadAll()) {
      const name = persisted.definition.name;
      if (persisted.problem !== undefined) {
        this.#broken.set(name, { definition: persisted.definition, counters: persisted.counters, reason: persisted.problem });
        continue;
      }
      try {
        this.#engines.set(name, new GroupEngine(source, persistence, persisted, this.#options));
      } catch (error) {
        // A definition that no longer compiles (a filter over today's limits, or too deep to parse) breaks its group only.
        this.#broken.set(name, { definition: persisted.definition, counters: persisted.counters, reason: loadFailure(error) });
      }
    }
  }

  loadProblems(): Array<{ name: string; reason: string }> {
    return [...this.#broken.values()].map((b) => ({ name: b.definition.name, reason: b.reason }));
  }

  async open(request: OpenGroupRequest): Promise<GroupHandle> {
    this.#assertOpen();
    const broken = this.#broken.get(request.name);
    if (broken !== undefined) throw brokenGroupError(broken);
    const existing = this.#engines.get(request.name);
    if (existing !== undefined) {
      const definition = existing.definition;
      if (definitionDiffers(definition, request)) {
        throw groupDefinitionConflict(definition);
      }
      if (settingsChanged(definition.settings, request.settings)) {
        const settings = { ...definition.settings, ...stripUndefined(request.settings) };
        this.#persistence.updateSettings(request.name, settings);
        existing.updateSettings(settings);
      }
      return existing;
    }
    const definition = {
      name: request.name,
      patterns: [...request.patterns],
      filter: request.filter,
      settings: { ...DEFAULT_GROUP_SETTINGS, ...stripUndefined(request.settings) },
      createdAt: new Date(this.#options.now()),
    };
    const floor = Number(request.startAfter);
    this.#persistence.create(definition, floor);
    const engine = new GroupEngine(
      this.#source,
      this.#persistence,
      { definition, floor, counters: zeroCounters(), settled: [], deadAboveFloor: [], retries: [] },
      this.#options,
    );
    this.#engines.set(request.name, engine);
    return engine;
  }

  async list(): Promise<GroupStats[]> {
    this.#assertOpen();
    const names = [...this.#engines.keys(), ...this.#broken.keys()].sort();
    return Promise.all(names.map(async (name) => (await this.get(name)) as GroupStats));
  }

  async get(name: string): Promise<GroupStats | undefined> {
    this.#assertOpen();
    const broken = this.#broken.get(name);
    if (broken !== undefined) return brokenStats(broken, this.#persistence.countDead(name));
    return this.#engines.get(name)?.stats();
  }

  async delete(name: string): Promise<boolean> {
    this.#assertOpen();
    if (this.#broken.delete(name)) {
      this.#persistence.delete(name);
      return true;
    }
    const engine = this.#engines.get(name);
    if (engine === undefined) return false;
    this.#engines.delete(name);
    engine.markDeleted();
    this.#persistence.delete(name);
    return true;
  }

  async listDeadLetters(name: string, query: DeadLetterQuery): Promise<DeadLetter[]> {
    // A broken group's dead letters stay readable.
    if (this.#broken.has(name)) return readDeadLetters(this.#persistence, this.#source, name, query);
    return this.#engine(name).listDeadLetters(query);
  }

  async redrive(name: string, selection: DeadLetterSelection): Promise<number> {
    const broken = this.#broken.get(name);
    if (broken !== undefined) throw brokenGroupError(broken);
    return this.#engine(name).redrive(selection);
  }

  async purge(name: string, selection: DeadLetterSelection): Promise<number> {
    if (this.#broken.has(name)) return this.#persistence.takeDead(name, "all" in selection ? selection : { sequences: selection.sequences.map(Number) }).length;
    return this.#engine(name).purge(selection);
  }

  /** Stops every engine, writing what is pending. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const engine of this.#engines.values()) engine.shutdown();
  }

  #engine(name: string): GroupEngine {
    this.#assertOpen();
    const engine = this.#engines.get(name);
    if (engine === undefined) throw notFound("consumer group", name);
    return engine;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ProtobusError(Code.UNAVAILABLE, "the store is closed");
  }
}

/** `value` without its undefined fields. */
export function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
