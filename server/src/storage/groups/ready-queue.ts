/**
 * The group engine's ready queue: which unsettled events may go out next,
 * and in what order. Events come out by priority (lower value first), then
 * by sequence. An event whose ordering key has an earlier event still
 * unsettled is held back until that one settles; only the first event of
 * each key's sequence-ordered line can be queued.
 *
 * The queue does not own its items' state: it asks `isReady` when an item
 * comes out and skips one that is no longer ready (it was handed out,
 * settled or put back to wait after it was queued). An item queued twice
 * comes out once, by whichever copy comes out first: both have its rank,
 * so that is the same place in the order.
 */
import { MonotoneHeap } from "./monotone-heap.js";

/** What the queue needs of an item. */
export interface ReadyItem {
  /** Its sequence in the log. */
  readonly seq: number;
  /** Its place in the order; see {@link readyRank}. */
  readonly rank: number;
  /** Its ordering key; empty for none. */
  readonly key: string;
}

/**
 * The ready order (lower priority value first, then lower sequence) as one
 * number: priority × 2^48 + sequence, exact for the priorities a publish
 * accepts (0..9) and sequences below 2^48.
 */
export function readyRank(priority: number, seq: number): number {
  return Math.min(priority, 31) * 2 ** 48 + seq;
}

/** Ready items in order, and the ordering-key lines that hold items back. */
export class ReadyQueue<T extends ReadyItem> {
  readonly #isReady: (item: T) => boolean;
  readonly #heap = new MonotoneHeap<T>((a, b) => a.rank < b.rank);
  /** Per ordering key, its unsettled items in sequence order; only the first may be out. */
  readonly #lines = new Map<string, T[]>();

  /** `isReady(item)` tells whether a queued item may still go out when it reaches the front. */
  constructor(isReady: (item: T) => boolean) {
    this.#isReady = isReady;
  }

  /** Queued copies, including ones that will be skipped. */
  get size(): number {
    return this.#heap.size;
  }

  /** Queues an item that may go out now. */
  push(item: T): void {
    this.#heap.push(item);
  }

  /** The first item still ready, left queued (`pop` then takes it), or undefined when none is. */
  peek(): T | undefined {
    for (;;) {
      const item = this.#heap.peek();
      if (item === undefined || this.#isReady(item)) return item;
      this.#heap.pop();
    }
  }

  /** The first item still ready, or undefined when none is. */
  pop(): T | undefined {
    for (;;) {
      const item = this.#heap.pop();
      if (item === undefined || this.#isReady(item)) return item;
    }
  }

  /**
   * Places a new unsettled item in its ordering key's line. True when it is
   * free to go (no key, or first of its line); false when it waits behind
   * an earlier item of its key and is released by {@link settle} of that one.
   */
  admit(item: T): boolean {
    if (item.key === "") return true;
    const line = this.#lines.get(item.key);
    if (line === undefined || line.length === 0) {
      this.#lines.set(item.key, [item]);
      return true;
    }
    // Keep the line in sequence order; only its first item may go out.
    let i = line.length;
    while (i > 1 && (line[i - 1] as T).seq > item.seq) i -= 1;
    line.splice(i, 0, item);
    return false;
  }

  /**
   * Takes a settled item out of its ordering key's line. Returns the item
   * that became first of the line and is now free to go, if any.
   */
  settle(item: T): T | undefined {
    if (item.key === "") return undefined;
    const line = this.#lines.get(item.key);
    if (line === undefined) return undefined;
    const index = line.indexOf(item);
    if (index >= 0) line.splice(index, 1);
    if (line.length === 0) {
      this.#lines.delete(item.key);
      return undefined;
    }
    return index === 0 ? line[0] : undefined;
  }
}
