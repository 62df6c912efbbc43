/**
 * A binary min-heap ordered by a comparison function: the priority queues of
 * the group engine (deliverable events by priority then sequence, timers by
 * time, unsettled sequences for the group's floor).
 */
export class Heap<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  /** `before(a, b)` is true when `a` must come out before `b`. */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  /** How many items it holds. */
  get size(): number {
    return this.#items.length;
  }

  /** The first item, without removing it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds an item. */
  push(item: T): void {
    // Sift up by moving parents down into the hole, writing the item once.
    const items = this.#items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = items[parent] as T;
      if (!this.#before(item, above)) break;
      items[i] = above;
      i = parent;
    }
    items[i] = item;
  }

  /** Removes and returns the first item. */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    const n = items.length;
    if (n > 0 && last !== undefined) {
      // Sift the last item down from the root, moving smaller children up.
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        let child = left;
        if (right < n && this.#before(items[right] as T, items[left] as T)) child = right;
        const below = items[child] as T;
        if (!this.#before(below, last)) break;
        items[i] = below;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }

  /** Drops every item. */
  clear(): void {
    this.#items.length = 0;
  }
}
