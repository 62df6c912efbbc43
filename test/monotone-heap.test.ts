/**
 * The engine's monotone priority queue gives items out in exactly the order
 * a sorted list would, whatever mix of in-order and out-of-order pushes and
 * interleaved pops it gets.
 */
import { describe, expect, it } from "vitest";
import { MonotoneHeap } from "../server/src/storage/groups/monotone-heap.js";

/** Inserts a key into a sorted list, after any equal ones. */
function insertSorted(list: number[], key: number): void {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((list[mid] as number) <= key) low = mid + 1;
    else high = mid;
  }
  list.splice(low, 0, key);
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("MonotoneHeap", () => {
  it("pops in sorted order under mixed monotone and out-of-order pushes", () => {
    for (let seed = 1; seed <= 50; seed += 1) {
      const next = random(seed);
      const queue = new MonotoneHeap<number>((a, b) => a < b);
      const reference: number[] = [];
      let counter = 0;
      for (let step = 0; step < 5000; step += 1) {
        const roll = next();
        if (roll < 0.55) {
          // Mostly increasing keys, as the log is read; sometimes one far back or a repeat.
          counter += Math.floor(next() * 3);
          const key = next() < 0.15 ? Math.floor(next() * counter) : counter;
          queue.push(key);
          insertSorted(reference, key);
        } else if (roll < 0.6) {
          // A burst of a higher-priority band (keys far below), as priorities do.
          const key = -1000 + Math.floor(next() * 100);
          queue.push(key);
          insertSorted(reference, key);
        } else {
          expect(queue.peek()).toBe(reference[0]);
          expect(queue.pop()).toBe(reference.shift());
        }
        expect(queue.size).toBe(reference.length);
      }
      const rest: number[] = [];
      for (let item = queue.pop(); item !== undefined; item = queue.pop()) rest.push(item);
      expect(rest).toEqual(reference);
      expect(queue.size).toBe(0);
    }
  });

  it("compacts its in-order part without losing or reordering items", () => {
    const queue = new MonotoneHeap<number>((a, b) => a < b);
    for (let i = 0; i < 10_000; i += 1) queue.push(i);
    for (let i = 0; i < 6_000; i += 1) expect(queue.pop()).toBe(i);
    queue.push(3);
    for (let i = 10_000; i < 12_000; i += 1) queue.push(i);
    expect(queue.pop()).toBe(3);
    for (let i = 6_000; i < 12_000; i += 1) expect(queue.pop()).toBe(i);
    expect(queue.pop()).toBeUndefined();
    queue.push(5);
    queue.clear();
    expect(queue.size).toBe(0);
    expect(queue.peek()).toBeUndefined();
  });
});
