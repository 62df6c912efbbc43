/**
 * The group engine's ready queue on its own: items come out by priority,
 * then sequence; items no longer ready are skipped; an item queued twice
 * comes out once; an ordering key lets only its earliest unsettled item go,
 * and settling that one frees the next in sequence order.
 */
import { describe, expect, it } from "vitest";
import { ReadyQueue, readyRank } from "../../server/src/storage/groups/ready-queue.js";

interface Item {
  readonly seq: number;
  readonly rank: number;
  readonly key: string;
  ready: boolean;
}

function item(seq: number, priority = 4, key = ""): Item {
  return { seq, rank: readyRank(priority, seq), key, ready: true };
}

function drain(queue: ReadyQueue<Item>): number[] {
  const out: number[] = [];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    next.ready = false;
    out.push(next.seq);
  }
  return out;
}

describe("ReadyQueue", () => {
  it("gives items out by priority, then sequence", () => {
    const queue = new ReadyQueue<Item>((i) => i.ready);
    for (const i of [item(5), item(1, 9), item(3, 0), item(2), item(4, 0), item(6, 9)]) queue.push(i);
    expect(drain(queue)).toEqual([3, 4, 2, 5, 1, 6]);
    expect(queue.pop()).toBeUndefined();
  });

  it("ranks the highest sequences below 2^48 exactly", () => {
    const top = 2 ** 48 - 1;
    expect(readyRank(0, top)).toBeLessThan(readyRank(1, 0));
    expect(readyRank(9, top - 1)).toBeLessThan(readyRank(9, top));
  });

  it("skips items that are no longer ready and gives an item queued twice out once", () => {
    const queue = new ReadyQueue<Item>((i) => i.ready);
    const a = item(1);
    const b = item(2);
    const c = item(3);
    queue.push(a);
    queue.push(b);
    queue.push(c);
    queue.push(a);
    b.ready = false;
    expect(drain(queue)).toEqual([1, 3]);
    expect(queue.size).toBe(0);
  });

  it("lets only the earliest unsettled item of an ordering key go, and frees the next on settle", () => {
    const queue = new ReadyQueue<Item>((i) => i.ready);
    const first = item(10, 4, "k");
    const third = item(30, 0, "k");
    const second = item(20, 0, "k");
    const free = item(15, 4, "");
    expect(queue.admit(first)).toBe(true);
    expect(queue.admit(third)).toBe(false);
    expect(queue.admit(second)).toBe(false);
    expect(queue.admit(free)).toBe(true);
    expect(queue.settle(free)).toBeUndefined();
    // Settling a later item frees nothing; settling the first frees the next in sequence order.
    expect(queue.settle(third)).toBeUndefined();
    expect(queue.settle(first)).toBe(second);
    expect(queue.settle(second)).toBeUndefined();
    // The key's line is gone: a new item of the key is free at once.
    expect(queue.admit(item(40, 4, "k"))).toBe(true);
  });

  it("never places a late item ahead of the first of its line, which may be out already", () => {
    const queue = new ReadyQueue<Item>((i) => i.ready);
    const out = item(50, 4, "k");
    const early = item(20, 4, "k");
    expect(queue.admit(out)).toBe(true);
    expect(queue.admit(early)).toBe(false);
    expect(queue.settle(out)).toBe(early);
  });
});
