/**
 * Counts of stored events per type after a sequence, remembered until the
 * head moves: listing many consumer groups that start at the same place
 * (every group opened from `earliest` over one history) scans the log once,
 * not once per group.
 */

/** Events of one type after a sequence. */
export interface TypeCount {
  readonly type: string;
  readonly n: bigint;
}

/** Most distinct start sequences remembered at once. */
const MAX_ENTRIES = 64;

/** A small cache of per-type counts, valid for one head sequence. */
export class TypeCounts {
  readonly #query: (afterSequence: number) => TypeCount[];
  readonly #byAfter = new Map<number, TypeCount[]>();
  #head = -1n;

  /** `query` counts the events per type after a sequence. */
  constructor(query: (afterSequence: number) => TypeCount[]) {
    this.#query = query;
  }

  /** The counts after `afterSequence` with the log at `head`. */
  after(afterSequence: number, head: bigint): TypeCount[] {
    if (head !== this.#head) {
      this.#byAfter.clear();
      this.#head = head;
    }
    let counts = this.#byAfter.get(afterSequence);
    if (counts === undefined) {
      counts = this.#query(afterSequence);
      if (this.#byAfter.size >= MAX_ENTRIES) this.#byAfter.delete(this.#byAfter.keys().next().value as number);
      this.#byAfter.set(afterSequence, counts);
    }
    return counts;
  }

  /** Forgets every count: events were deleted below the head (retention), so counts at the same head changed. */
  forget(): void {
    this.#byAfter.clear();
  }
}
