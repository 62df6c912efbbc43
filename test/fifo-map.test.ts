/**
 * FifoMap behaves as a Map whose oldest entry (insertion order) can be read
 * and removed: checked against a plain list model over long random runs of
 * sets (new keys and keys already held), deletes out of order, re-inserts
 * of deleted keys, and shifts, with compaction happening along the way;
 * and the weight of what it holds stays the sum of its entries' weights.
 */
import { describe, expect, it } from "vitest";
import { FifoMap } from "../server/src/fifo-map.js";

/** A deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** The model: entries in insertion order; a set on a held key keeps its place. */
class ListModel {
  entries: [number, number][] = [];
  /** Each held key's weight, as {@link weigh} gave it when the key was set while not held. */
  readonly weights = new Map<number, number>();
  set(key: number, value: number): void {
    const held = this.entries.find((e) => e[0] === key);
    if (held !== undefined) held[1] = value;
    else {
      this.entries.push([key, value]);
      this.weights.set(key, weigh(key, value));
      this.#weight += weigh(key, value);
    }
  }
  delete(key: number): boolean {
    const at = this.entries.findIndex((e) => e[0] === key);
    if (at >= 0) this.entries.splice(at, 1);
    this.#drop(key);
    return at >= 0;
  }
  shift(): [number, number] | undefined {
    const first = this.entries.shift();
    if (first !== undefined) this.#drop(first[0]);
    return first;
  }
  #drop(key: number): void {
    this.#weight -= this.weights.get(key) ?? 0;
    this.weights.delete(key);
  }
  /** The sum of {@link weights}, summed again every 1,000 calls to check the running sum. */
  get weight(): number {
    this.#calls += 1;
    if (this.#calls % 1_000 === 0) {
      let sum = 0;
      for (const w of this.weights.values()) sum += w;
      expect(this.#weight).toBe(sum);
    }
    return this.#weight;
  }
  #weight = 0;
  #calls = 0;
}

/** The weight of an entry in the random runs. */
function weigh(key: number, value: number): number {
  return (key % 17) + (value % 5);
}

describe("FifoMap", () => {
  it("gives the oldest entry first, skipping deleted keys and placing re-inserted ones last", () => {
    const map = new FifoMap<string, number>();
    for (const [i, key] of ["a", "b", "c", "d"].entries()) map.set(key, i);
    map.delete("a");
    map.set("c", 20);
    map.delete("b");
    map.set("b", 10);
    expect(map.size).toBe(3);
    expect(map.oldest()).toEqual(["c", 20]);
    expect(map.shift()).toEqual(["c", 20]);
    expect(map.shift()).toEqual(["d", 3]);
    expect(map.get("b")).toBe(10);
    expect(map.shift()).toEqual(["b", 10]);
    expect(map.shift()).toBeUndefined();
    expect(map.oldest()).toBeUndefined();
    expect(map.size).toBe(0);
    map.set("e", 5);
    expect(map.oldest()).toEqual(["e", 5]);
  });

  for (const seed of [1, 2, 3]) {
    it(`matches a list model over 30,000 random operations, weights included (seed ${seed})`, () => {
      const next = random(seed);
      const map = new FifoMap<number, number>(weigh);
      const model = new ListModel();
      for (let step = 0; step < 30_000; step++) {
        const roll = next();
        // Keys from a small range, so that sets hit held keys and deleted ones come back.
        const key = Math.floor(next() * 3_000);
        if (roll < 0.55) {
          map.set(key, step);
          model.set(key, step);
        } else if (roll < 0.85) {
          expect(map.delete(key)).toBe(model.delete(key));
        } else if (roll < 0.97) {
          expect(map.shift()).toEqual(model.shift());
        } else {
          expect(map.oldest()).toEqual(model.entries[0]);
        }
        expect(map.size).toBe(model.entries.length);
        expect(map.weight).toBe(model.weight);
        expect(map.has(key)).toBe(model.entries.some((e) => e[0] === key));
        expect(map.get(key)).toBe(model.entries.find((e) => e[0] === key)?.[1]);
      }
      const drained: [number, number][] = [];
      for (let e = map.shift(); e !== undefined; e = map.shift()) drained.push(e);
      expect(drained).toEqual(model.entries);
      expect(map.weight).toBe(0);
    });
  }

  it("keeps a full map bounded by dropping the oldest on each insert, over many times its capacity", () => {
    const capacity = 1_000;
    const map = new FifoMap<string, number>();
    for (let i = 0; i < 50_000; i++) {
      map.set(`flow-${i}`, i);
      // Some flows finish out of order, as terminal events do.
      if (i % 7 === 3) map.delete(`flow-${i - 500}`);
      if (map.size > capacity) map.shift();
    }
    expect(map.size).toBeLessThanOrEqual(capacity);
    const [oldestKey] = map.oldest() ?? [""];
    expect(Number(oldestKey.slice(5))).toBeGreaterThan(50_000 - capacity - 200);
    expect(map.get("flow-49999")).toBe(49_999);
  });
});
