/**
 * The group engine's commit batching on its own: unconfirmed acks commit
 * within the interval (or at the end of the tick once enough wait), waiters
 * resolve only when their writes are durable, and a failure reaches the
 * waiters or, without any, the next caller of takeFailure.
 */
import { describe, expect, it } from "vitest";
import { CommitBatcher, type PendingWrites } from "../../server/src/storage/groups/commit-batcher.js";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function recorder(behaviour: (writes: PendingWrites) => void | Promise<void> = () => undefined): {
  batcher: CommitBatcher;
  commits: number[][];
} {
  const commits: number[][] = [];
  const batcher = new CommitBatcher(
    (writes) => {
      commits.push([...writes.settled]);
      return behaviour(writes);
    },
    { intervalMs: 40, maxPendingAcks: 3 },
  );
  return { batcher, commits };
}

describe("CommitBatcher", () => {
  it("commits unconfirmed acks once, within the interval", async () => {
    const { batcher, commits } = recorder();
    batcher.pending.settled.push(1);
    batcher.later();
    batcher.pending.settled.push(2);
    batcher.later();
    await tick();
    expect(commits).toEqual([]);
    await sleep(80);
    expect(commits).toEqual([[1, 2]]);
    expect(batcher.hasPending).toBe(false);
  });

  it("commits at the end of the tick once maxPendingAcks wait", async () => {
    const { batcher, commits } = recorder();
    batcher.pending.settled.push(1, 2, 3);
    batcher.later();
    await tick();
    expect(commits).toEqual([[1, 2, 3]]);
  });

  it("gathers the writes of one tick into one commit and resolves every waiter after it", async () => {
    const { batcher, commits } = recorder();
    batcher.pending.settled.push(1);
    const first = batcher.committed();
    batcher.pending.dead.push({ sequence: 2, attempts: 3, reason: "failed", deadAt: 0 });
    const second = batcher.committed();
    await Promise.all([first, second]);
    expect(commits).toEqual([[1]]);
  });

  it("resolves waiters only once an asynchronous commit is durable", async () => {
    let durable!: () => void;
    const { batcher } = recorder(() => new Promise<void>((resolve) => (durable = resolve)));
    batcher.pending.settled.push(7);
    let resolved = false;
    const waiting = batcher.committed().then(() => (resolved = true));
    await tick();
    await tick();
    expect(resolved).toBe(false);
    durable();
    await waiting;
    expect(resolved).toBe(true);
  });

  it("rejects the waiters of a failed commit, and keeps a failure nobody waited for for takeFailure", async () => {
    const failure = new Error("disk full");
    const { batcher } = recorder(() => {
      throw failure;
    });
    batcher.pending.settled.push(1);
    await expect(batcher.committed()).rejects.toBe(failure);
    expect(batcher.takeFailure()).toBeUndefined();
    batcher.pending.settled.push(2);
    batcher.flush();
    expect(batcher.takeFailure()).toBe(failure);
    expect(batcher.takeFailure()).toBeUndefined();
  });

  it("flush commits at once; cancel stops the interval without committing", async () => {
    const { batcher, commits } = recorder();
    batcher.pending.settled.push(1);
    batcher.later();
    batcher.cancel();
    await sleep(80);
    expect(commits).toEqual([]);
    batcher.flush();
    expect(commits).toEqual([[1]]);
  });
});
