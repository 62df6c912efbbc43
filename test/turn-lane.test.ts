/**
 * The turn lane (server/src/turn-lane.ts): jobs run one per turn of the
 * event loop, so that timers and I/O that became due during one job are
 * served before the next job runs; jobs of one key run in the order they
 * were queued and keys take turns; jobs hold bytes until released, and
 * wait while the lane's limit is reached.
 */
import { describe, expect, it } from "vitest";
import { TurnLane } from "../server/src/turn-lane.js";

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Holds the event loop, as decoding a large request does.
  }
}

describe("TurnLane", () => {
  it("runs queued jobs in order, one per turn: a timer due after the first job fires before the second", async () => {
    const lane = new TurnLane();
    const seen: string[] = [];
    const jobs = [1, 2, 3].map((n) =>
      lane.run(0, () => {
        seen.push(`job ${n}`);
        if (n === 1) setTimeout(() => seen.push("timer"), 0);
        busy(5);
        return n * 10;
      }),
    );
    expect(lane.waiting).toBe(3);
    expect(await Promise.all(jobs)).toEqual([10, 20, 30]);
    expect(seen).toEqual(["job 1", "timer", "job 2", "job 3"]);
    expect(lane.waiting).toBe(0);
  });

  it("serves I/O between two jobs", async () => {
    const lane = new TurnLane();
    const seen: string[] = [];
    const first = lane.run(0, () => {
      seen.push("job 1");
      // A file read completes during the busy wait; its callback is I/O.
      void import("node:fs").then(({ readFile }) => readFile(new URL(import.meta.url), () => seen.push("io")));
    });
    await first;
    const later = Array.from({ length: 200 }, (_, i) => lane.run(0, () => (busy(2), seen.push(`job ${i + 2}`))));
    await Promise.all(later);
    expect(seen[0]).toBe("job 1");
    expect(seen.indexOf("io")).toBeGreaterThan(0);
    expect(seen.indexOf("io")).toBeLessThan(seen.length - 1);
  });

  it("rejects the promise of a job that throws, and runs the jobs after it", async () => {
    const lane = new TurnLane();
    const failed = lane.run(0, () => {
      throw new Error("bad job");
    });
    const next = lane.run(0, () => "next");
    await expect(failed).rejects.toThrow("bad job");
    await expect(next).resolves.toBe("next");
  });

  it("starts a job only when its bytes fit beside those held, one always when none are held, in order", async () => {
    const lane = new TurnLane(100);
    const started: string[] = [];
    const a = lane.run(60, () => started.push("a"));
    const b = lane.run(60, () => started.push("b"));
    const c = lane.run(10, () => started.push("c"));
    await a;
    // b does not fit beside a; c, which would, waits behind b (arrival order).
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toEqual(["a"]);
    expect(lane.held).toBe(60);
    expect(lane.waiting).toBe(2);
    lane.release(60);
    await Promise.all([b, c]);
    expect(started).toEqual(["a", "b", "c"]);
    expect(lane.held).toBe(70);
    lane.release(60);
    lane.release(10);
    // Larger than the whole limit: it runs alone.
    await lane.run(500, () => started.push("huge"));
    expect(lane.held).toBe(500);
    const after = lane.run(1, () => started.push("after"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started.at(-1)).toBe("huge");
    lane.release(500);
    await after;
    expect(started.at(-1)).toBe("after");
  });

  it("lets keys take turns, one job of each waiting key per round, and runs each key's jobs in order", async () => {
    const lane = new TurnLane();
    const started: string[] = [];
    const queue = (key: string, n: number) => Array.from({ length: n }, (_, i) => lane.run(0, () => started.push(`${key}${i + 1}`), key));
    const jobs = [...queue("a", 4), ...queue("b", 2), ...queue("c", 1)];
    expect(lane.waiting).toBe(7);
    await Promise.all(jobs);
    expect(started).toEqual(["a1", "b1", "c1", "a2", "b2", "a3", "a4"]);
    // A key that comes back joins the turns at their end.
    const more = [...queue("a", 2), ...queue("d", 1)];
    await Promise.all(more);
    expect(started.slice(7)).toEqual(["a1", "d1", "a2"]);
  });

  it("keeps the byte limit across keys: the job whose turn it is waits, and no other key passes it", async () => {
    const lane = new TurnLane(100);
    const started: string[] = [];
    const a1 = lane.run(80, () => started.push("a1"), "a");
    const b1 = lane.run(80, () => started.push("b1"), "b");
    const c1 = lane.run(10, () => started.push("c1"), "c");
    await a1;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toEqual(["a1"]);
    lane.release(80);
    await Promise.all([b1, c1]);
    expect(started).toEqual(["a1", "b1", "c1"]);
    expect(lane.held).toBe(90);
  });
});
