/**
 * The SQLite store reads events behind its recent cache in a thread of its
 * own, with a second, read-only connection to the events database. What
 * that asks for: the data directory's lock no longer rests on the events
 * database but still keeps a second server out; reads leave the main thread
 * (and the thread id says so); reads pending at close fail, they do not
 * hang; a read the thread fails at fails with a status; reads interleaved
 * with appends see every event once, in order; and a read answered by the
 * thread keeps the bounds of every read.
 */
import { renameSync } from "node:fs";
import { join } from "node:path";
import { threadId } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { Code, ProtobusError } from "@protobus/sdk";
import { compilePatterns } from "@protobus/sdk/internal";
import { Event } from "@protobus/sdk/proto";
import { createSqliteBackend, type SqliteStorageBackend } from "@protobus/server";
import { spawnServer } from "./support/test-server.js";
import { sqliteStores } from "./support/sqlite-stores.js";

function numbered(n: number, type = "backlog.item.added", data?: Buffer): Event {
  return Event.fromPartial({ id: `e-${n}`, source: "test/backlog-reader", type, specVersion: "1.0", ...(data ? { data } : {}) });
}

/** Appends events 0..count-1 (sequences 1..count) in batches. */
async function fill(store: SqliteStorageBackend, count: number, typeOf: (n: number) => string = () => "backlog.item.added"): Promise<void> {
  for (let n = 0; n < count; n += 500) {
    const batch = Array.from({ length: Math.min(500, count - n) }, (_, i) => numbered(n + i, typeOf(n + i)));
    await store.append(batch, { dedupeWindowMs: 0 });
  }
}

describe("the sqlite store's backlog reader", () => {
  const { newDir: directory, open, defer } = sqliteStores();

  it("keeps a second store out of an open data directory, and lets it in once the first closes", async () => {
    const dataDir = directory();
    const first = open(dataDir);
    await fill(first, 10);
    let refused: unknown;
    try {
      createSqliteBackend({ dataDir });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ProtobusError);
    expect(refused).toMatchObject({ code: Code.FAILED_PRECONDITION });
    expect((refused as Error).message).toContain(`data directory ${dataDir} is in use by another protobus server`);
    // The refusal took nothing from the first store.
    await first.append([numbered(10)], { dedupeWindowMs: 0 });
    await first.close();
    const second = open(dataDir);
    expect(await second.headSequence()).toBe(11n);
    const { events } = await second.read({ afterSequence: 0n, limit: 100 });
    expect(events.map((e) => e.event.id)).toEqual(Array.from({ length: 11 }, (_, n) => `e-${n}`));
  });

  it("keeps a second server process out of a data directory in use", async () => {
    const dataDir = directory();
    const owner = await spawnServer(["--store", "sqlite", "--data-dir", dataDir]);
    defer(() => owner.stop());
    await expect(spawnServer(["--store", "sqlite", "--data-dir", dataDir])).rejects.toThrow(/in use by another protobus server/);
    expect(await owner.stop()).toBe(0);
    const next = await spawnServer(["--store", "sqlite", "--data-dir", dataDir]);
    defer(() => next.stop());
    expect(next.output()).toContain("protobus listening");
  });

  it("reads behind the recent cache in another thread, and reads near the head from the cache", async () => {
    const store = open(directory(), { recentCacheSize: 100 });
    await fill(store, 3_000);
    expect(store.backlogReadStats()).toEqual({ served: 0, threadId: undefined });
    // Sequence 1 left the cache long ago: the database has it.
    const behind = await store.read({ afterSequence: 0n, limit: 50 });
    expect(behind.events.map((e) => e.sequence)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
    const stats = store.backlogReadStats();
    expect(stats.served).toBe(1);
    expect(stats.threadId).toBeGreaterThan(0);
    expect(stats.threadId).not.toBe(threadId);
    // The newest events are in the cache: the thread is not asked.
    const recent = await store.read({ afterSequence: 2_990n, limit: 50 });
    expect(recent.events.map((e) => e.sequence)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(2_991 + i)));
    expect(store.backlogReadStats().served).toBe(1);
  });

  it("gives events read by the thread the priority and ordering key their envelopes hold", async () => {
    const store = open(directory(), { recentCacheSize: 10 });
    const shapes: Array<Partial<Event>> = [{}, { priority: 0 }, { priority: 9, orderingKey: "customer-17" }, { orderingKey: "kunde-ü-42" }, { orderingKey: "" }];
    const events = Array.from({ length: 200 }, (_, n) => Event.fromPartial({ ...numbered(n), ...shapes[n % shapes.length] }));
    await store.append(events, { dedupeWindowMs: 0 });
    const { events: read } = await store.read({ afterSequence: 0n, limit: 200 });
    expect(store.backlogReadStats().served).toBe(1);
    expect(read).toHaveLength(200);
    for (const stored of read) {
      const decoded = Event.decode(stored.bytes);
      expect([stored.priority, stored.orderingKey]).toEqual([decoded.priority ?? 4, decoded.orderingKey]);
    }
    expect(new Set(read.map((e) => e.orderingKey))).toEqual(new Set(["", "customer-17", "kunde-ü-42"]));
    expect(new Set(read.map((e) => e.priority))).toEqual(new Set([0, 4, 9]));
  });

  it("fails the reads pending when the store closes with UNAVAILABLE, and every read after", async () => {
    const dataDir = directory();
    const first = open(dataDir);
    await fill(first, 5_000);
    await first.close();
    // Reopened, the cache is empty: every read goes to the thread.
    const store = open(dataDir);
    const reads = Array.from({ length: 8 }, (_, i) => store.read({ afterSequence: BigInt(i * 500), limit: 400 }));
    const settled = Promise.allSettled(reads);
    await store.close();
    const outcomes = await settled;
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: Code.UNAVAILABLE, rawMessage: "the sqlite store is closed" });
    }
    await expect(store.read({ afterSequence: 0n, limit: 10 })).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });

  it("fails a read the thread cannot do with a status, and reads again once it can", async () => {
    const dataDir = directory();
    const first = open(dataDir);
    await fill(first, 3_000);
    await first.close();
    const store = open(dataDir);
    // The thread opens its connection with its first read; without the file it cannot.
    const path = join(dataDir, "events.db");
    renameSync(path, `${path}.away`);
    try {
      await expect(store.read({ afterSequence: 0n, limit: 10 })).rejects.toMatchObject({
        code: Code.UNAVAILABLE,
        rawMessage: expect.stringMatching(/^sqlite read failed: /) as unknown,
      });
    } finally {
      renameSync(`${path}.away`, path);
    }
    const { events } = await store.read({ afterSequence: 0n, limit: 10 });
    expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 1)));
    expect(store.backlogReadStats().served).toBe(1);
  });

  it("returns every event once and in order to readers paging through the backlog while appends go on", async () => {
    const store = open(directory(), { recentCacheSize: 64 });
    const typeOf = (n: number): string => (n % 3 === 0 ? "backlog.item.removed" : "backlog.item.added");
    const initial = 20_000;
    await fill(store, initial, typeOf);
    const extra = 6_000;
    let appended = initial;
    const publisher = (async () => {
      while (appended < initial + extra) {
        const batch = Array.from({ length: 60 }, (_, i) => numbered(appended + i, typeOf(appended + i)));
        await store.append(batch, { dedupeWindowMs: 0 });
        appended += batch.length;
      }
    })();
    // Two readers at different places and with different patterns and
    // limits (the limits vary from read to read, as a consumer group's do).
    const page = async (patterns: string[] | undefined, wanted: (n: number) => boolean, limitAt: (read: number) => number) => {
      const matcher = patterns === undefined ? undefined : compilePatterns(patterns);
      const seen: number[] = [];
      let after = 0n;
      for (let read = 0; ; read++) {
        const { events, scannedTo } = await store.read({ afterSequence: after, limit: limitAt(read), ...(matcher ? { matcher } : {}) });
        expect(events.length).toBeLessThanOrEqual(limitAt(read));
        for (const stored of events) {
          expect(stored.sequence).toBeGreaterThan(after);
          // The bytes are the event stored under this sequence.
          expect(stored.event.id).toBe(`e-${Number(stored.sequence) - 1}`);
          expect(stored.event.sequence).toBe(stored.sequence);
          seen.push(Number(stored.sequence) - 1);
        }
        expect(scannedTo).toBeGreaterThanOrEqual(after);
        after = scannedTo;
        if (after === BigInt(initial + extra)) break;
        // Caught up with a publisher still at work: wait for its next commit.
        if (events.length === 0 && scannedTo === (await store.headSequence())) await new Promise((r) => setTimeout(r, 1));
      }
      const expected = Array.from({ length: initial + extra }, (_, n) => n).filter(wanted);
      expect(seen).toEqual(expected);
    };
    await Promise.all([
      publisher,
      page(undefined, () => true, (read) => 1 + ((read * 389) % 1_100)),
      page(["backlog.item.removed"], (n) => n % 3 === 0, (read) => (read % 2 === 0 ? 256 : 1_024)),
    ]);
    expect(store.backlogReadStats().served).toBeGreaterThan(10);
  });

  it("keeps the bounds of a read: the limit, the rows scanned and the bytes returned", async () => {
    const dataDir = directory();
    const first = open(dataDir);
    // 10,000 events, only the last 100 of the matched type.
    await fill(first, 10_000, (n) => (n >= 9_900 ? "bound.match" : "bound.other"));
    // 12 events of 1 MiB.
    for (let n = 10_000; n < 10_012; n += 4) {
      await first.append(
        Array.from({ length: 4 }, (_, i) => numbered(n + i, "bound.large", Buffer.alloc(1024 * 1024, (n + i) % 256))),
        { dedupeWindowMs: 0 },
      );
    }
    await first.close();
    const store = open(dataDir);
    const matcher = compilePatterns(["bound.match"]);
    // A sparse pattern looks at max(limit × 16, 4,096) rows, then says how far it got.
    expect(await store.read({ afterSequence: 0n, limit: 10, matcher })).toEqual({ events: [], scannedTo: 4_096n });
    const wider = await store.read({ afterSequence: 0n, limit: 300, matcher });
    expect(wider.events).toEqual([]);
    expect(wider.scannedTo).toBe(4_800n);
    const found = await store.read({ afterSequence: 9_000n, limit: 30, matcher });
    expect(found.events.map((e) => e.sequence)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(9_901 + i)));
    expect(found.scannedTo).toBe(9_930n);
    // At most 8 MiB of events per read, but one at least.
    const large = await store.read({ afterSequence: 10_000n, limit: 100 });
    expect(large.events.length).toBe(7);
    expect(large.events.every((e) => e.event.data.length === 1024 * 1024 && e.event.data[0] === Number(e.sequence - 1n) % 256)).toBe(true);
    expect(large.scannedTo).toBe(10_007n);
    expect(store.backlogReadStats().served).toBe(4);
  });
});
