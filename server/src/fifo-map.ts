/**
 * A Map whose oldest entry (in insertion order) is found and removed in
 * amortized O(1), for bounded state that drops its oldest entries first.
 *
 * A plain Map cannot do this cheaply: `map.keys().next()` walks past every
 * slot deleted since V8 last compacted the table, so dropping the oldest
 * entry of a full 100,000-entry Map on each insert costs tens of µs per
 * insert. Here the insertion order is kept in an array of its own, read
 * from a moving head; entries deleted out of order are skipped there once,
 * and the array is compacted when skipped entries outnumber live ones.
 */
export class FifoMap<K, V> {
  readonly #entries = new Map<K, { value: V; stamp: number; weight: number }>();
  readonly #weigh: ((key: K, value: V) => number) | undefined;
  #weight = 0;
  /** Keys in insertion order, each with the stamp it was inserted with; stale ones are skipped. */
  #order: { key: K; stamp: number }[] = [];
  #head = 0;
  #stamp = 0;

  /**
   * @param weigh what an entry weighs (its bytes, say), for a bound on the
   *   sum as well as on the count: {@link weight}. An entry weighs what it
   *   weighed when its key was first set.
   */
  constructor(weigh?: (key: K, value: V) => number) {
    this.#weigh = weigh;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** What the entries held weigh together (0 without a `weigh` function). */
  get weight(): number {
    return this.#weight;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Sets `key`; a key already held keeps its place in the order, as in a Map. */
  set(key: K, value: V): void {
    const held = this.#entries.get(key);
    if (held !== undefined) {
      held.value = value;
      return;
    }
    const stamp = this.#stamp++;
    const weight = this.#weigh?.(key, value) ?? 0;
    this.#weight += weight;
    this.#entries.set(key, { value, stamp, weight });
    this.#order.push({ key, stamp });
    if (this.#order.length - this.#head > 2 * this.#entries.size + 1024) this.#compact();
  }

  delete(key: K): boolean {
    const held = this.#entries.get(key);
    if (held === undefined) return false;
    this.#weight -= held.weight;
    return this.#entries.delete(key);
  }

  /** The oldest entry held, without removing it. */
  oldest(): [K, V] | undefined {
    while (this.#head < this.#order.length) {
      const { key, stamp } = this.#order[this.#head] as { key: K; stamp: number };
      const held = this.#entries.get(key);
      // A key deleted, or deleted and set again later (a newer stamp), is stale here.
      if (held !== undefined && held.stamp === stamp) return [key, held.value];
      this.#head += 1;
    }
    this.#order = [];
    this.#head = 0;
    return undefined;
  }

  /** Removes and returns the oldest entry held. */
  shift(): [K, V] | undefined {
    const oldest = this.oldest();
    if (oldest !== undefined) {
      this.delete(oldest[0]);
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) this.#compact();
    return oldest;
  }

  /** Drops the stale part of the order: everything before the head and every key no longer held at its stamp. */
  #compact(): void {
    const live: { key: K; stamp: number }[] = [];
    for (let i = this.#head; i < this.#order.length; i++) {
      const entry = this.#order[i] as { key: K; stamp: number };
      if (this.#entries.get(entry.key)?.stamp === entry.stamp) live.push(entry);
    }
    this.#order = live;
    this.#head = 0;
  }
}
