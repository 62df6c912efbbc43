/**
 * Group state kept in this process only, for the memory backend: the same
 * engine paths as a durable backend, with nothing surviving a restart.
 */
import type { GroupDefinition, GroupSettings } from "../group-store.js";
import { zeroCounters } from "./group-persistence.js";
import type * as persistence from "./group-persistence.js";

interface MemoryGroup {
  definition: GroupDefinition;
  floor: number;
  counters: persistence.GroupCounters;
  readonly settled: Set<number>;
  readonly retries: Map<number, persistence.RetryRecord>;
  readonly dead: Map<number, persistence.DeadRecord>;
}

/** A group as the engine loads it. */
function persistedOf(g: MemoryGroup): persistence.PersistedGroup {
  return {
    definition: g.definition,
    floor: g.floor,
    counters: { ...g.counters },
    settled: [...g.settled],
    deadAboveFloor: [...g.dead.keys()].filter((seq) => seq > g.floor),
    retries: [...g.retries.values()],
  };
}

/** In-process {@link GroupPersistence}. */
export class MemoryGroupPersistence implements persistence.GroupPersistence {
  readonly #groups = new Map<string, MemoryGroup>();

  loadAll(): persistence.PersistedGroup[] {
    return [...this.#groups.values()].map((g) => persistedOf(g));
  }

  load(name: string): persistence.PersistedGroup | undefined {
    const group = this.#groups.get(name);
    return group === undefined ? undefined : persistedOf(group);
  }

  create(definition: GroupDefinition, floor: number): void {
    this.#groups.set(definition.name, {
      definition,
      floor,
      counters: zeroCounters(),
      settled: new Set(),
      retries: new Map(),
      dead: new Map(),
    });
  }

  updateSettings(name: string, settings: GroupSettings): void {
    const group = this.#groups.get(name);
    if (group !== undefined) group.definition = { ...group.definition, settings };
  }

  commit(name: string, batch: persistence.GroupBatch): void {
    const group = this.#groups.get(name);
    if (group === undefined) return;
    group.floor = batch.floor;
    group.counters = { ...batch.counters };
    for (const seq of group.settled) if (seq <= batch.floor) group.settled.delete(seq);
    for (const seq of batch.settled) group.settled.add(seq);
    for (const seq of batch.clearedRetries) group.retries.delete(seq);
    for (const record of batch.retries) group.retries.set(record.sequence, record);
    for (const record of batch.dead) group.dead.set(record.sequence, record);
  }

  delete(name: string): void {
    this.#groups.delete(name);
  }

  listDead(name: string, afterSequence: number, limit: number): persistence.DeadRecord[] {
    const group = this.#groups.get(name);
    if (group === undefined) return [];
    return [...group.dead.values()]
      .filter((r) => r.sequence > afterSequence)
      .sort((a, b) => a.sequence - b.sequence)
      .slice(0, limit);
  }

  countDead(name: string): number {
    return this.#groups.get(name)?.dead.size ?? 0;
  }

  atomically<T>(fn: () => T): T {
    return fn();
  }

  takeDead(name: string, selection: persistence.DeadSelection): persistence.DeadRecord[] {
    const group = this.#groups.get(name);
    if (group === undefined) return [];
    const sequences = "all" in selection ? [...group.dead.keys()] : selection.sequences;
    const taken: persistence.DeadRecord[] = [];
    for (const seq of sequences) {
      const record = group.dead.get(seq);
      if (record === undefined) continue;
      group.dead.delete(seq);
      taken.push(record);
    }
    return taken.sort((a, b) => a.sequence - b.sequence);
  }
}
