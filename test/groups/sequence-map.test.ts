/**
 * The group engine's map of unsettled events by sequence on its own: it
 * behaves as a `Map` whatever the order of sets and deletes (in order,
 * out of order, stragglers far behind, sparse sequences, huge sequences),
 * and `lowest()` is the smallest sequence held.
 */
import { describe, expect, it } from "vitest";
import { SequenceMap } from "../../server/src/storage/groups/sequence-map.js";

/** Applies the same operations to a SequenceMap and a Map, checking they agree. */
class Checked {
  readonly map = new SequenceMap<number>();
  readonly model = new Map<number, number>();

  set(seq: number): void {
    this.map.set(seq, seq * 10);
    this.model.set(seq, seq * 10);
  }

  delete(seq: number): void {
    const dropped = this.map.delete(seq);
    // Thrown rather than `expect`ed: this runs hundreds of thousands of times.
    if (dropped !== this.model.delete(seq)) throw new Error(`delete(${seq}) returned ${dropped}`);
  }

  check(probes: readonly number[] = []): void {
    expect(this.map.size).toBe(this.model.size);
    const wrong = [...this.model].filter(([seq, value]) => this.map.get(seq) !== value);
    expect(wrong).toEqual([]);
    for (const seq of probes) expect(this.map.get(seq)).toBe(this.model.get(seq));
    const keys = [...this.model.keys()];
    expect(this.map.lowest()).toBe(keys.length === 0 ? undefined : Math.min(...keys));
    expect([...this.map.values()].sort((a, b) => a - b)).toEqual([...this.model.values()].sort((a, b) => a - b));
  }
}

describe("SequenceMap", () => {
  it("holds, replaces and drops items in about sequence order", () => {
    const c = new Checked();
    for (let seq = 1; seq <= 5000; seq++) {
      c.set(seq);
      if (seq > 1500) c.delete(seq - 1500 + (seq % 7));
    }
    c.map.set(4000, 1);
    c.model.set(4000, 1);
    c.check([0, 1, 6000, 10_000]);
    for (const seq of [...c.model.keys()]) c.delete(seq);
    c.check([1, 4000]);
  });

  it("keeps a straggler far behind while the window moves on", () => {
    const c = new Checked();
    c.set(10);
    for (let seq = 11; seq < 1_000_000; seq += 3) {
      c.set(seq);
      c.delete(seq - 300 < 11 ? -1 : seq - 300);
    }
    c.check([10, 11, 999_999]);
    expect(c.map.lowest()).toBe(10);
    c.delete(10);
    c.check([10]);
    // An item below the window, then the window empties and moves above it.
    c.set(5);
    for (const seq of [...c.model.keys()]) if (seq !== 5) c.delete(seq);
    c.set(3_000_000);
    c.set(4);
    c.check([3, 4, 5, 3_000_000]);
  });

  it("agrees with a Map under random operations, sparse and dense", () => {
    let state = 12345;
    const random = (n: number): number => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    for (const spread of [4, 1000, 400_000]) {
      const c = new Checked();
      let head = 1;
      for (let i = 0; i < 20_000; i++) {
        const op = random(10);
        if (op < 5) {
          head += 1 + random(spread);
          c.set(head);
        } else if (op < 8) {
          // One of the oldest few.
          let skip = random(8);
          for (const seq of c.model.keys()) {
            if (skip-- > 0) continue;
            c.delete(seq);
            break;
          }
        } else if (op === 8) {
          c.set(Math.max(1, head - random(spread * 50)));
        } else {
          c.delete(Math.max(1, head - random(spread * 50)));
        }
        if (i % 2000 === 0) c.check();
      }
      c.check([0, head, head + 1]);
    }
  });

  it("indexes sequences beyond 32 bits", () => {
    const c = new Checked();
    const base = 2 ** 40;
    for (let seq = base; seq < base + 3000; seq++) c.set(seq);
    for (let seq = base; seq < base + 1000; seq++) c.delete(seq);
    c.check([base, base + 2999, base + 3000, 2 ** 32 + 1500]);
  });

  it("is empty after clear", () => {
    const c = new Checked();
    for (let seq = 1; seq < 100; seq++) c.set(seq);
    c.map.clear();
    c.model.clear();
    c.check([1, 50]);
    c.set(7);
    c.check([7]);
  });
});
