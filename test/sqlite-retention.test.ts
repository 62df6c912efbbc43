/**
 * Retention of the SQLite store (`retention.ts`, `--sqlite-max-age`,
 * `--sqlite-max-bytes`): the oldest events are deleted with their index
 * and tag rows, the newest is always kept so that sequences go on after a
 * restart, a consumer group behind the oldest kept event goes on from it,
 * the file's pages in use come under a byte bound, and an append deletes
 * as many due events as it writes, in its own transaction. A delete that
 * fails is logged with its cause, once for a run of failures.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { loadConfig, type SqliteStorageBackend } from "@protobus/server";
import { Retention } from "../server/src/storage/sqlite/retention.js";
import { envelopeTags } from "../server/src/storage/sqlite/tag-index.js";
import { SequenceAtTime } from "../server/src/storage/sqlite/sequence-at-time.js";
import { createClient } from "@protobus/sdk";
import { sqliteStores } from "./support/sqlite-stores.js";
import { metricValue, startHardeningServer } from "./hardening/support.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const HOUR = 3_600_000;

function event(id: string, tags: readonly string[], data = Buffer.alloc(0)): Event {
  return Event.fromPartial({ id, source: "test/retention", type: "job.item.added", specVersion: "1.0", correlationId: `c-${id.split("-")[0]}`, tags: [...tags], data });
}

describe("the sqlite store's retention", () => {
  const stores = sqliteStores();
  const { newDir, defer } = stores;

  function open(dataDir: string, options: { now?: number; maxAgeMs?: number; maxBytes?: number } = {}): SqliteStorageBackend {
    return stores.open(dataDir, {
      ...(options.now !== undefined ? { now: () => new Date(options.now as number) } : {}),
      retention: { maxAgeMs: options.maxAgeMs ?? 0, maxBytes: options.maxBytes ?? 0 },
    });
  }

  function metric(store: SqliteStorageBackend, name: string): number {
    const found = store.metrics?.find((m) => m.name === name);
    if (found === undefined) throw new Error(`no metric ${name}`);
    return found.read();
  }

  /** Waits until retention has deleted `count` events (or, with no count, until it stops deleting). */
  async function deletedSettles(store: SqliteStorageBackend, count?: number): Promise<number> {
    let last = -1;
    for (let i = 0; i < 200; i++) {
      const deleted = metric(store, "protobus_sqlite_retention_deleted_events_total");
      if (count !== undefined ? deleted >= count : deleted === last && deleted > 0) return deleted;
      last = deleted;
      await sleep(count !== undefined ? 25 : 1_200);
    }
    throw new Error("retention did not settle");
  }

  /** 30 events of two hours ago (ids `old-n`, tags old and shared), then 10 of now (`new-n`, tags new and shared). */
  async function writeOldAndNew(dataDir: string): Promise<void> {
    const before = open(dataDir, { now: T0 });
    await before.append(Array.from({ length: 30 }, (_, n) => event(`old-${n}`, ["old", "shared", "old"])), { dedupeWindowMs: 0 });
    await before.close();
    const after = open(dataDir, { now: T0 + 2 * HOUR });
    await after.append(Array.from({ length: 10 }, (_, n) => event(`new-${n}`, ["new", "shared"])), { dedupeWindowMs: 0 });
    await after.close();
  }

  it("deletes events older than the maximum age with their index and tag rows, and nothing newer", async () => {
    const dir = newDir();
    await writeOldAndNew(dir);
    const store = open(dir, { now: T0 + 2 * HOUR, maxAgeMs: HOUR });
    expect(await deletedSettles(store, 30)).toBe(30);
    expect(metric(store, "protobus_sqlite_oldest_sequence")).toBe(31);

    const read = await store.read({ afterSequence: 0n, limit: 100 });
    expect(read.events.map((e) => e.event.id)).toEqual(Array.from({ length: 10 }, (_, n) => `new-${n}`));
    expect(read.events[0]?.sequence).toBe(31n);
    expect(await store.getEvent("old-3")).toBeUndefined();
    expect((await store.getEvent("new-3"))?.sequence).toBe(34n);
    const byTag = async (tags: string[]) => (await store.query({ fromSequence: 1n, limit: 100, tags })).events.map((e) => e.event.id);
    expect(await byTag(["old"])).toEqual([]);
    expect(await byTag(["shared"])).toHaveLength(10);
    expect((await store.query({ fromSequence: 1n, limit: 100, correlationId: "c-old" })).events).toEqual([]);
    expect((await store.query({ fromSequence: 1n, limit: 100, correlationId: "c-new" })).events).toHaveLength(10);

    // The rows behind those indexes are gone, not just unreachable.
    const file = new Database(join(dir, "events.db"), { readonly: true });
    try {
      expect(file.prepare("SELECT count(*) AS n FROM event_tag_keys WHERE seq <= 30").get()).toEqual({ n: 0 });
      expect(file.prepare("SELECT count(*) AS n FROM event_tag_keys").get()).toEqual({ n: 20 });
      expect(file.prepare("SELECT count(*) AS n, min(seq) AS low FROM events").get()).toEqual({ n: 10, low: 31 });
    } finally {
      file.close();
    }
    const [appended] = await store.append([event("later-0", [])], { dedupeWindowMs: 0 });
    expect(appended?.sequence).toBe(41n);
  });

  it("keeps the newest event when every event is due, so that sequences go on after a restart", async () => {
    const dir = newDir();
    await writeOldAndNew(dir);
    const store = open(dir, { now: T0 + 5 * HOUR, maxAgeMs: HOUR });
    expect(await deletedSettles(store, 39)).toBe(39);
    expect((await store.read({ afterSequence: 0n, limit: 100 })).events.map((e) => e.sequence)).toEqual([40n]);
    await store.close();
    const reopened = open(dir, { now: T0 + 5 * HOUR });
    const [appended] = await reopened.append([event("after-0", [])], { dedupeWindowMs: 0 });
    expect(appended?.sequence).toBe(41n);
  });

  it("lets a consumer group behind the oldest kept event go on from it", async () => {
    const dir = newDir();
    const first = open(dir, { now: T0 });
    await first.groups.open({ name: "workers", patterns: ["job.>"], filter: "", settings: {}, startAfter: 0n });
    await first.close();
    await writeOldAndNew(dir);
    const store = open(dir, { now: T0 + 2 * HOUR, maxAgeMs: HOUR });
    await deletedSettles(store, 30);
    const group = await store.groups.open({ name: "workers", patterns: ["job.>"], filter: "", settings: {}, startAfter: 0n });
    group.join("m1");
    const got = await group.claim("m1", 100);
    expect(got.map((d) => d.stored.sequence)).toEqual(Array.from({ length: 10 }, (_, n) => BigInt(31 + n)));
    await group.ack(got.map((d) => d.deliveryId));
    expect(await store.groups.get("workers")).toMatchObject({ acked: 10, backlog: 0 });
  });

  it("deletes a group's dead letters of the events it deletes, so that the count is what can be listed", async () => {
    const dir = newDir();
    const first = open(dir, { now: T0 });
    const settings = { maxDeliveries: 1 };
    const group = await first.groups.open({ name: "dlq", patterns: ["job.>"], filter: "", settings, startAfter: 0n });
    await first.append(Array.from({ length: 3 }, (_, n) => event(`old-${n}`, [])), { dedupeWindowMs: 0 });
    group.join("m1");
    const failed = await group.claim("m1", 3);
    await group.nack(failed.map((d) => d.deliveryId), { reason: "poison" });
    expect(await first.groups.get("dlq")).toMatchObject({ deadLetters: 3 });
    await first.close();
    const second = open(dir, { now: T0 + 2 * HOUR });
    await second.append([event("new-0", [])], { dedupeWindowMs: 0 });
    await second.close();

    const store = open(dir, { now: T0 + 2 * HOUR, maxAgeMs: HOUR });
    await deletedSettles(store, 3);
    expect(await store.groups.get("dlq")).toMatchObject({ deadLetters: 0 });
    expect(await store.groups.listDeadLetters("dlq", { afterSequence: 0n, limit: 10 })).toEqual([]);
    const file = new Database(join(dir, "events.db"), { readonly: true });
    try {
      expect(file.prepare("SELECT count(*) AS n FROM group_dead").get()).toEqual({ n: 0 });
    } finally {
      file.close();
    }
  });

  it("brings the pages in use under the byte bound by deleting the oldest events", async () => {
    const dir = newDir();
    const writer = open(dir);
    for (let i = 0; i < 6; i++) {
      await writer.append(
        Array.from({ length: 500 }, (_, n) => event(`e${i}-${n}`, [`t${n % 7}`], Buffer.alloc(1024, n))),
        { dedupeWindowMs: 0 },
      );
    }
    await writer.close();
    const bound = 2 * 2 ** 20;
    const store = open(dir, { maxBytes: bound });
    const deleted = await deletedSettles(store);
    const file = new Database(join(dir, "events.db"), { readonly: true });
    try {
      const pageSize = file.pragma("page_size", { simple: true }) as number;
      const used = ((file.pragma("page_count", { simple: true }) as number) - (file.pragma("freelist_count", { simple: true }) as number)) * pageSize;
      expect(used).toBeLessThanOrEqual(bound);
      expect(metric(store, "protobus_sqlite_used_bytes")).toBe(used);
      // It stops near the bound (90% of it, less at most a batch), not far below.
      expect(used).toBeGreaterThan(bound / 2);
      // What is kept is the newest events, every one of them.
      const kept = file.prepare("SELECT count(*) AS n, min(seq) AS low, max(seq) AS high FROM events").get() as { n: number; low: number; high: number };
      expect(kept.high).toBe(3000);
      expect(kept.n).toBe(kept.high - kept.low + 1);
      expect(kept.n).toBe(3000 - deleted);
    } finally {
      file.close();
    }
  });

  it("deletes in an append's transaction as many due events as it writes, and none when that transaction rolls back", async () => {
    const dir = newDir();
    const writer = open(dir, { now: T0 });
    await writer.append(Array.from({ length: 100 }, (_, n) => event(`old-${n}`, ["a", "b"])), { dedupeWindowMs: 0 });
    await writer.close();
    const db = new Database(join(dir, "events.db"));
    db.defaultSafeIntegers(true);
    // Batches between commits never get to write: only keepPace deletes.
    const retention = new Retention(db, { maxAgeMs: HOUR, maxBytes: 0 }, new SequenceAtTime(db), {
      head: () => 100n,
      now: () => T0 + 2 * HOUR,
      canWrite: () => false,
      afterDelete: () => undefined,
    });
    defer(() => db.close());
    defer(() => retention.close());
    retention.start();
    await sleep(20);
    const lowest = () => Number((db.prepare("SELECT min(seq) AS s FROM events").get() as { s: bigint }).s);
    const tagRows = () => Number((db.prepare("SELECT count(*) AS n FROM event_tag_keys").get() as { n: bigint }).n);
    expect(lowest()).toBe(1);

    db.transaction(() => retention.keepPace(5))();
    retention.committed();
    expect(lowest()).toBe(6);
    expect(tagRows()).toBe(190);
    expect(retention.stats().deleted).toBe(5);

    expect(() =>
      db.transaction(() => {
        retention.keepPace(7);
        throw new Error("the append failed");
      })(),
    ).toThrow("the append failed");
    expect(lowest()).toBe(6);
    expect(tagRows()).toBe(190);
    expect(retention.stats().deleted).toBe(5);
  });

  it("reads an envelope's tags off the wire as the decoder does, unknown fields and server fields around them", () => {
    const cases = [[], ["one"], ["dup", "dup", "other"], ["ünïcødé ✓", "", "x".repeat(300)]];
    for (const tags of cases) {
      const encoded = Event.encode(Event.fromPartial({ id: "e", type: "a.b.c", tags, sequence: 7n, priority: 3, publishTime: new Date(T0), data: Buffer.alloc(40, 1) })).finish();
      // Unknown fields of every wire type: 100 varint, 101 fixed64, 102 bytes, 103 fixed32.
      const unknown = Buffer.from([0xa0, 0x06, 0x96, 0x01, 0xa9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0xb2, 0x06, 2, 0x6a, 0x6b, 0xbd, 0x06, 1, 2, 3, 4]);
      const bytes = Buffer.concat([unknown, encoded, unknown]);
      expect(envelopeTags(bytes)).toEqual(Event.decode(bytes).tags);
      expect(envelopeTags(bytes)).toEqual(tags);
    }
    // Bytes that do not scan are decoded; bytes that do not decode have no tags.
    const tagged = Event.encode(Event.fromPartial({ tags: ["kept"] })).finish();
    // (An empty group, field 100: the scan stops at it.)
    expect(envelopeTags(Buffer.concat([tagged, Buffer.from([0xa3, 0x06, 0xa4, 0x06])]))).toEqual(["kept"]);
    expect(envelopeTags(tagged.subarray(0, tagged.length - 1))).toEqual([]);
  });

  it("runs in `protobus serve` from its flag: reads from the start begin after what --sqlite-max-age deleted, failures are logged", async () => {
    const server = await startHardeningServer(["--sqlite-max-age", "1s"]);
    defer(() => server.close());
    const client = createClient({ address: server.address, source: "test/retention", batching: false });
    defer(() => client.close());
    await client.publish(Array.from({ length: 5 }, (_, i) => ({ type: "job.item.old", subject: `old-${i}` })));
    // While another connection holds the write lock, deleting fails: the server's log says why.
    const locker = new Database(join(server.dataDir, "events.db"));
    locker.exec("BEGIN IMMEDIATE");
    const logged = /WARN +sqlite retention could not delete events of \S+events\.db: database is locked; nothing was deleted; tried again in 1 s failures=1/;
    for (let i = 0; i < 100 && !logged.test(server.output()); i++) await sleep(50);
    locker.close();
    expect(server.output()).toMatch(logged);
    await client.publish([{ type: "job.item.new", subject: "new-0" }]);
    for (let i = 0; i < 100 && (await metricValue(server.metricsPort, "protobus_sqlite_retention_deleted_events_total")) < 5; i++) await sleep(50);
    expect(await metricValue(server.metricsPort, "protobus_sqlite_retention_deleted_events_total")).toBe(5);
    expect(await metricValue(server.metricsPort, "protobus_sqlite_oldest_sequence")).toBe(6);
    const subjects: string[] = [];
    for await (const stored of client.queryAll({ patterns: ["job.>"], limit: 100 })) subjects.push(stored.subject);
    expect(subjects).toEqual(["new-0"]);
  });

  it("logs why deleting failed, once for a run of failures, and deletes once the file can be written again", async () => {
    const dir = newDir();
    await writeOldAndNew(dir);
    const lines: string[] = [];
    const log = (message: string) => lines.push(message);
    const store = stores.open(dir, {
      now: () => new Date(T0 + 2 * HOUR),
      retention: { maxAgeMs: HOUR, maxBytes: 0 },
      logger: { debug: () => undefined, info: () => undefined, warn: log, error: log },
    });
    // Before the first pass runs, another connection takes the file's write
    // lock: every delete transaction fails (the store does not wait for locks).
    const locker = new Database(join(dir, "events.db"));
    defer(() => locker.close());
    locker.exec("BEGIN IMMEDIATE");
    for (let i = 0; i < 100 && metric(store, "protobus_sqlite_retention_failures_total") < 3; i++) await sleep(100);
    expect(metric(store, "protobus_sqlite_retention_failures_total")).toBeGreaterThanOrEqual(3);
    expect(metric(store, "protobus_sqlite_retention_deleted_events_total")).toBe(0);
    expect(lines).toEqual([`sqlite retention could not delete events of ${join(dir, "events.db")}: database is locked; nothing was deleted; tried again in 1 s`]);

    locker.exec("COMMIT");
    expect(await deletedSettles(store, 30)).toBe(30);
    expect(lines).toHaveLength(1);
  });

  it("reads its bounds from the configuration, durations in days too", () => {
    const dir = newDir();
    const config = loadConfig({ env: { PROTOBUS_SQLITE_MAX_AGE: "7d" }, cwd: dir, flags: { "sqlite-max-bytes": "1073741824" } });
    expect(config.sqliteMaxAgeMs).toBe(7 * 24 * HOUR);
    expect(config.sqliteMaxBytes).toBe(2 ** 30);
    expect(loadConfig({ env: {}, cwd: dir })).toMatchObject({ sqliteMaxAgeMs: 0, sqliteMaxBytes: 0 });
    expect(() => loadConfig({ env: { PROTOBUS_SQLITE_MAX_AGE: "a week" }, cwd: dir })).toThrow(/PROTOBUS_SQLITE_MAX_AGE: expected a duration/);
  });
});
