/**
 * The dead-letter queue of one group: listing it (with the events read from
 * the event source), taking dead letters back for redelivery (removed and
 * recorded as retries in one atomic step, so a crash cannot lose them) and
 * purging them. The engine only re-queues what `redrive` hands back.
 */
import type { DeadLetter, DeadLetterQuery, DeadLetterSelection } from "../group-store.js";
import type { StoredEvent } from "../stored-event.js";
import { readDeadLetters } from "./dead-letter-reader.js";
import type { EventSource } from "./event-source.js";
import type { DeadSelection, GroupCounters, GroupPersistence } from "./group-persistence.js";

/** The group state a redrive writes along: its floor and counters as they are now. */
export interface GroupPosition {
  readonly floor: number;
  readonly counters: GroupCounters;
}

function toDeadSelection(selection: DeadLetterSelection): DeadSelection {
  return "all" in selection ? { all: true } : { sequences: selection.sequences.map(Number) };
}

/** Dead-letter administration of group `name`. */
export class DeadLetterAdmin {
  readonly #persistence: GroupPersistence;
  readonly #source: EventSource;
  readonly #name: string;

  constructor(persistence: GroupPersistence, source: EventSource, name: string) {
    this.#persistence = persistence;
    this.#source = source;
    this.#name = name;
  }

  /** Dead letters `query` selects, in sequence order. */
  list(query: DeadLetterQuery): Promise<DeadLetter[]> {
    return readDeadLetters(this.#persistence, this.#source, this.#name, query);
  }

  /**
   * Takes the selected dead letters out of the queue and records each as a
   * retry due now (attempts start over), atomically; resolves to how many
   * were taken and the events still in the log, for the engine to deliver again.
   */
  async redrive(selection: DeadLetterSelection, position: GroupPosition): Promise<{ taken: number; events: StoredEvent[] }> {
    const writes: Promise<void>[] = [];
    const taken = this.#persistence.atomically(() => {
      const records = this.#persistence.takeDead(this.#name, toDeadSelection(selection));
      const written = this.#persistence.commit(this.#name, {
        floor: position.floor,
        settled: [],
        retries: records.map((r) => ({ sequence: r.sequence, attempts: 0, dueAt: 0, reason: "redriven" })),
        clearedRetries: [],
        dead: [],
        counters: position.counters,
      });
      if (written instanceof Promise) writes.push(written);
      return records;
    });
    await Promise.all(writes);
    return { taken: taken.length, events: await this.#source.readSequences(taken.map((r) => r.sequence)) };
  }

  /** Drops the selected dead letters; returns how many. */
  purge(selection: DeadLetterSelection): number {
    return this.#persistence.takeDead(this.#name, toDeadSelection(selection)).length;
  }
}
