/**
 * A map from log sequences to items, for items that arrive in about
 * sequence order and leave in about the same order (a group's unsettled
 * events): those in a window of consecutive sequences sit in an array slot
 * indexed by sequence (no hashing, no rehashing as they come and go), the
 * few left far behind the window (an event waiting out a long redelivery
 * delay while the log moves on) in a `Map`. It also tells the lowest
 * sequence held, which a group's floor needs, without a heap of its own.
 *
 * The window is `[low, low + slots)`; `slots` is a power of two, so a
 * sequence's slot is its low bits. It slides forward over empty slots;
 * when a held item keeps it from covering a new sequence it doubles, as
 * long as it stays at least an eighth full and under a bound, and
 * otherwise moves the items it leaves behind to the map. So the slots
 * it passes over per item stay bounded (the items of a group reading
 * one event in a million go to the map), and every item in the map is
 * below the window.
 */

const FIRST_SLOTS = 1024;
/** The widest window, in sequences; items further behind go to the map. */
const MAX_SLOTS = 2 ** 18;
/** A window grows only while it holds at least one item per this many slots. */
const MIN_DENSITY = 8;

/** Items by sequence; see the file comment. */
export class SequenceMap<T> {
  #slots: (T | undefined)[] = new Array<T | undefined>(FIRST_SLOTS).fill(undefined);
  #mask = FIRST_SLOTS - 1;
  /** The lowest sequence of the window. */
  #low = 0;
  /** Items in the window. */
  #count = 0;
  /** Items below the window. */
  readonly #far = new Map<number, T>();
  /** No item in the map is at or above this (the window may not move below it). */
  #farAbove = 0;

  /** How many items it holds. */
  get size(): number {
    return this.#count + this.#far.size;
  }

  /** The item of `seq`, if any. */
  get(seq: number): T | undefined {
    const offset = seq - this.#low;
    if (offset >= 0 && offset < this.#slots.length) return this.#slots[seq & this.#mask];
    return this.#far.size === 0 ? undefined : this.#far.get(seq);
  }

  /** Whether an item of `seq` is held. */
  has(seq: number): boolean {
    return this.get(seq) !== undefined;
  }

  /** Holds `item` as the item of `seq`, replacing any. */
  set(seq: number, item: T): void {
    let offset = seq - this.#low;
    if (offset < 0 || offset >= this.#slots.length) {
      if (this.#count === 0 && seq >= this.#farAbove) {
        // An empty window moves anywhere above the map's items.
        this.#low = seq;
        offset = 0;
      } else if (offset < 0) {
        this.#far.set(seq, item);
        return;
      } else {
        this.#cover(seq);
      }
    }
    const slot = seq & this.#mask;
    if (this.#slots[slot] === undefined) this.#count += 1;
    this.#slots[slot] = item;
  }

  /** Drops the item of `seq`; false when none was held. */
  delete(seq: number): boolean {
    const offset = seq - this.#low;
    if (offset >= 0 && offset < this.#slots.length) {
      const slot = seq & this.#mask;
      if (this.#slots[slot] === undefined) return false;
      this.#slots[slot] = undefined;
      this.#count -= 1;
      return true;
    }
    if (this.#far.size === 0 || !this.#far.delete(seq)) return false;
    if (this.#far.size === 0) this.#farAbove = 0;
    return true;
  }

  /** The lowest sequence held; undefined when empty. */
  lowest(): number | undefined {
    let lowest: number | undefined;
    for (const seq of this.#far.keys()) if (lowest === undefined || seq < lowest) lowest = seq;
    if (lowest !== undefined || this.#count === 0) return lowest;
    // Slides over the empty slots at the bottom: each is passed once.
    while (this.#slots[this.#low & this.#mask] === undefined) this.#low += 1;
    return this.#low;
  }

  /** Every item: the window's in sequence order, then the map's. */
  *values(): IterableIterator<T> {
    const slots = this.#slots;
    if (this.#count > 0) {
      for (let seq = this.#low, end = this.#low + slots.length; seq < end; seq++) {
        const item = slots[seq & this.#mask];
        if (item !== undefined) yield item;
      }
    }
    yield* this.#far.values();
  }

  /** Drops every item. */
  clear(): void {
    this.#slots = new Array<T | undefined>(FIRST_SLOTS).fill(undefined);
    this.#mask = FIRST_SLOTS - 1;
    this.#count = 0;
    this.#far.clear();
    this.#farAbove = 0;
  }

  /** Moves or widens the (non-empty) window so that it covers `seq`, above it. */
  #cover(seq: number): void {
    const slots = this.#slots;
    const wanted = seq - slots.length + 1;
    // Past empty slots: it stops at the lowest item, within one turn of the ring.
    while (this.#low < wanted && slots[this.#low & this.#mask] === undefined) this.#low += 1;
    if (this.#low >= wanted) return;
    const span = seq - this.#low + 1;
    if (span <= MAX_SLOTS && this.#count * MIN_DENSITY >= span) {
      let size = slots.length * 2;
      while (size < span) size *= 2;
      this.#resize(size);
      return;
    }
    // The items below the window that ends at `seq` go to the map.
    for (let s = this.#low, end = Math.min(wanted, this.#low + slots.length); s < end && this.#count > 0; s++) {
      const slot = s & this.#mask;
      const item = slots[slot];
      if (item === undefined) continue;
      this.#far.set(s, item);
      slots[slot] = undefined;
      this.#count -= 1;
    }
    this.#low = wanted;
    this.#farAbove = wanted;
  }

  /** Moves the window's items to `size` slots, same window start. */
  #resize(size: number): void {
    const old = this.#slots;
    const oldMask = this.#mask;
    const slots = new Array<T | undefined>(size).fill(undefined);
    const mask = size - 1;
    for (let seq = this.#low, end = this.#low + old.length; seq < end; seq++) {
      const item = old[seq & oldMask];
      if (item !== undefined) slots[seq & mask] = item;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}
