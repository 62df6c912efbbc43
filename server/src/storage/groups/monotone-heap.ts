/**
 * A min-priority queue for items that mostly arrive in order: an item not
 * before the last one queued in order goes to the end of a FIFO (O(1)),
 * any other item to a binary {@link Heap}; `pop` takes the first of the two
 * heads. The group engine reads the log in sequence order, so nearly every
 * ready event and unsettled sequence takes the FIFO path; redeliveries, a
 * higher priority or an ordering key released later take the heap.
 *
 * Items come out in the same order as from a {@link Heap} with the same
 * comparison (items that compare equal in either order).
 */
import { Heap } from "./heap.js";

/** A FIFO this long with this much of its front consumed is compacted. */
const COMPACT_AT = 1024;

/** Same API as {@link Heap}; see the file comment for when it is cheaper. */
export class MonotoneHeap<T> {
  readonly #before: (a: T, b: T) => boolean;
  readonly #heap: Heap<T>;
  /** Items in order; the live ones are from `#head` on. */
  #fifo: T[] = [];
  #head = 0;

  /** `before(a, b)` is true when `a` must come out before `b`. */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
    this.#heap = new Heap(before);
  }

  /** How many items it holds. */
  get size(): number {
    return this.#fifo.length - this.#head + this.#heap.size;
  }

  /** The first item, without removing it. */
  peek(): T | undefined {
    const fromHeap = this.#heap.peek();
    if (this.#head === this.#fifo.length) return fromHeap;
    const fromFifo = this.#fifo[this.#head] as T;
    return fromHeap !== undefined && this.#before(fromHeap, fromFifo) ? fromHeap : fromFifo;
  }

  /** Adds an item. */
  push(item: T): void {
    const fifo = this.#fifo;
    if (this.#head === fifo.length || !this.#before(item, fifo[fifo.length - 1] as T)) fifo.push(item);
    else this.#heap.push(item);
  }

  /** Removes and returns the first item. */
  pop(): T | undefined {
    const fifo = this.#fifo;
    if (this.#head === fifo.length) return this.#heap.pop();
    const fromFifo = fifo[this.#head] as T;
    const fromHeap = this.#heap.peek();
    if (fromHeap !== undefined && this.#before(fromHeap, fromFifo)) return this.#heap.pop();
    this.#head += 1;
    if (this.#head === fifo.length) {
      fifo.length = 0;
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= fifo.length) {
      this.#fifo = fifo.slice(this.#head);
      this.#head = 0;
    }
    return fromFifo;
  }

  /** Drops every item. */
  clear(): void {
    this.#fifo = [];
    this.#head = 0;
    this.#heap.clear();
  }
}
