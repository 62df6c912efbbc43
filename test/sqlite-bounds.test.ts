/**
 * What the SQLite store keeps is bounded by size, not only by count: large
 * events push the oldest ones out of its in-memory cache of recent events
 * (readers behind it read from the database, and get every event, in
 * order, unchanged), and the WAL file is cut back after a commit larger
 * than its limit instead of keeping that size on disk. A burst of large
 * appends arriving together is committed over several turns of the event
 * loop, each append whole, so that other work is served in between: a
 * commit takes at most so many events, and no further append once its
 * time budget is spent.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { createSqliteBackend, type AppendResult, type SqliteStorageBackend } from "@protobus/server";
import { COMMIT_BUDGET_MS, MAX_EVENTS_PER_COMMIT, WAL_SIZE_LIMIT } from "../server/src/storage/sqlite/index.js";
import { tempDir, waitFor } from "./support/test-server.js";

const KIB = 1024;

function bigEvent(n: number, size: number): Event {
  // The payload names its event, so a read that returns the wrong bytes is seen.
  const data = Buffer.alloc(size, n % 251);
  data.writeUInt32BE(n, 0);
  return Event.fromPartial({ id: `big-${n}`, source: "test/sqlite-bounds", type: "bulk.item.added", specVersion: "1.0", data });
}

describe("the sqlite store's bounds", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function open(commitBudgetMs?: number): { store: SqliteStorageBackend; dir: string } {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const store = createSqliteBackend({ dataDir: dir.path, ...(commitBudgetMs !== undefined ? { commitBudgetMs } : {}) });
    cleanups.push(() => store.close());
    return { store, dir: dir.path };
  }

  /** Appends of `sizes` events each, all in one turn of the event loop. */
  function burst(store: SqliteStorageBackend, sizes: readonly number[]): Promise<AppendResult[][]> {
    return Promise.all(
      sizes.map((size, a) =>
        store.append(
          Array.from({ length: size }, (_, i) => Event.fromPartial({ id: `burst-${a}-${i}`, source: "test/sqlite-bounds", type: "bulk.item.added", data: Buffer.from([a]) })),
          { dedupeWindowMs: 60_000 },
        ),
      ),
    );
  }

  /** Every event of `results` stored once, in order of its append, from sequence 1. */
  function expectInOrder(results: readonly AppendResult[][], sizes: readonly number[]): void {
    let next = 1n;
    results.forEach((result, a) => {
      expect(result).toHaveLength(sizes[a] as number);
      for (const r of result) {
        expect(r.duplicate).toBe(false);
        expect(r.sequence).toBe(next);
        next += 1n;
      }
    });
  }

  it("ends a group commit once its time budget is spent: the appends waiting behind commit on later turns, each whole and in order", async () => {
    // A budget of 0 is spent after the first append of every commit.
    const { store } = open(0);
    expect(COMMIT_BUDGET_MS).toBe(20);
    const sizes = [50, 1, 300, 7, 7, 120];
    const heads: bigint[] = [];
    store.onAppend((head) => heads.push(head));
    const results = await burst(store, sizes);
    let head = 0;
    expect(heads).toEqual(sizes.map((size) => BigInt((head += size))));
    expectInOrder(results, sizes);
    // Duplicates are still found across commits of one burst.
    const again = await burst(store, [50, 1]);
    expect(again.flat().every((r) => r.duplicate)).toBe(true);
    expect(await store.headSequence()).toBe(BigInt(head));
  });

  it("commits a burst of large appends over several turns, at most MAX_EVENTS_PER_COMMIT events each unless one append is larger, every append whole and in order", async () => {
    // No time budget: the commits are bounded by count alone.
    const { store } = open(Number.POSITIVE_INFINITY);
    const sizes = [3_000, 3_000, 1_000, 5_000, 200, 200];
    const heads: bigint[] = [];
    store.onAppend((head) => heads.push(head));
    // Appended in one turn: before, they all went into one transaction.
    const appended = burst(store, sizes);
    // Work queued behind the burst runs before its last commit.
    let servedBetween = false;
    setImmediate(() => setImmediate(() => (servedBetween = heads.length > 0 && heads.at(-1) !== 12_400n)));
    const results = await appended;
    expect(servedBetween).toBe(true);
    // Commits: [3,000] (the next would pass the bound), [3,000 + 1,000], [5,000] (one append, larger than the bound), [200 + 200].
    expect(MAX_EVENTS_PER_COMMIT).toBe(4_096);
    expect(heads).toEqual([3_000n, 7_000n, 12_000n, 12_400n]);
    expectInOrder(results, sizes);
    expect(await store.headSequence()).toBe(12_400n);
  });

  it("serves every event in order to readers behind the cache of recent events", async () => {
    const { store } = open();
    // 400 events of 64 KiB (25 MiB), in commits of 20: far past the cache's byte bound.
    const total = 400;
    for (let n = 0; n < total; n += 20) {
      await store.append(
        Array.from({ length: 20 }, (_, i) => bigEvent(n + i, 64 * KIB)),
        { dedupeWindowMs: 0 },
      );
    }
    let after = 0n;
    const seen: number[] = [];
    while (after < BigInt(total)) {
      const { events, scannedTo } = await store.read({ afterSequence: after, limit: 37 });
      expect(events.length).toBeGreaterThan(0);
      for (const stored of events) {
        const data = stored.event.data;
        expect(data.length).toBe(64 * KIB);
        seen.push(Buffer.from(data).readUInt32BE(0));
        expect(stored.event.id).toBe(`big-${Number(stored.sequence) - 1}`);
      }
      after = scannedTo;
    }
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it("cuts the WAL back after a commit larger than its limit", async () => {
    const { store, dir } = open();
    const wal = join(dir, "events.db-wal");
    // One commit a quarter larger than the limit: the WAL grows to hold it.
    const events = Math.ceil((1.25 * WAL_SIZE_LIMIT) / (256 * KIB));
    await store.append(
      Array.from({ length: events }, (_, i) => bigEvent(i, 256 * KIB)),
      { dedupeWindowMs: 0 },
    );
    expect(statSync(wal).size).toBeGreaterThan(1.2 * WAL_SIZE_LIMIT);
    // The checkpointer thread copies it into the database file after that
    // commit; the next commits restart the log from its start and cut the file.
    await waitFor(() => store.checkpointStats().checkpointedFrames * 4096 > 1.2 * WAL_SIZE_LIMIT, 10_000, "the commit to be checkpointed");
    for (let i = 0; i < 5; i++) await store.append([bigEvent(1000 + i, KIB)], { dedupeWindowMs: 0 });
    expect(statSync(wal).size).toBeLessThanOrEqual(WAL_SIZE_LIMIT);
    expect(await store.headSequence()).toBe(BigInt(events + 5));
  });
});
