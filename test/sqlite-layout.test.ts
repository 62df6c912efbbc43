/**
 * The SQLite store's layout (`event-layout.ts`): tags are indexed by a
 * fixed-size key (`tag-index.ts`) and correlation ids by at most their
 * first 128 characters, not by the client's whole text. Reads by tag and
 * by correlation id find exactly their events, whatever those hold, through
 * the indexes; a store of an earlier layout is moved to this one when
 * opened; and a store written by a newer layout is refused, untouched,
 * with a status that says why.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { Code, ProtobusError } from "@protobus/sdk";
import { Event } from "@protobus/sdk/proto";
import { createSqliteBackend, type SqliteStorageBackend } from "@protobus/server";
import { CORRELATION_KEY_LENGTH, HAS_CORRELATION } from "../server/src/storage/sqlite/event-layout.js";
import { HAS_TAG } from "../server/src/storage/sqlite/tag-index.js";
import { sqliteStores } from "./support/sqlite-stores.js";

const TAGS = ["urgent", "team/payments", "ünïcødé ✓", "x".repeat(256), "", "a b"];

function tagged(n: number, tags: readonly string[]): Event {
  return Event.fromPartial({ id: `tag-${n}`, source: "test/sqlite-layout", type: "tag.item.added", specVersion: "1.0", tags: [...tags] });
}

describe("the sqlite store's layout", () => {
  const { newDir, open, defer } = sqliteStores();

  /** Ids of the events that carry every one of `tags`, read from the start. */
  async function idsWithTags(store: SqliteStorageBackend, tags: readonly string[]): Promise<string[]> {
    const page = await store.query({ fromSequence: 1n, limit: 10_000, tags });
    return page.events.map((stored) => stored.event.id);
  }

  /** 60 events, event n carrying TAGS[i] when n is divisible by i + 1 (and `TAGS[0]` twice on every fifth). */
  async function writeTagged(store: SqliteStorageBackend): Promise<Map<string, string[]>> {
    const expected = new Map<string, string[]>(TAGS.map((tag) => [tag, []]));
    const events = Array.from({ length: 60 }, (_, n) => {
      const tags = TAGS.filter((_, i) => n % (i + 1) === 0);
      if (n % 5 === 0) tags.push(TAGS[0] as string);
      for (const tag of new Set(tags)) expected.get(tag)?.push(`tag-${n}`);
      return tagged(n, tags);
    });
    await store.append(events, { dedupeWindowMs: 0 });
    return expected;
  }

  it("finds exactly the events that carry a tag, alone and together with others, among random long tags", async () => {
    const store = open(newDir());
    const expected = await writeTagged(store);
    // Tags of the most a client may send: 64 random ones of 256 characters per event.
    const random = Array.from({ length: 20 }, () => Array.from({ length: 64 }, () => randomBytes(128).toString("hex")));
    await store.append(
      random.map((tags, i) => tagged(1000 + i, tags)),
      { dedupeWindowMs: 0 },
    );
    for (const [tag, ids] of expected) expect(await idsWithTags(store, [tag])).toEqual(ids);
    // Every second and every third: every sixth, as TAGS[5].
    expect(await idsWithTags(store, [TAGS[1] as string, TAGS[2] as string])).toEqual(expected.get(TAGS[5] as string));
    expect(await idsWithTags(store, [random[7]?.[63] as string])).toEqual(["tag-1007"]);
    expect(await idsWithTags(store, ["no such tag"])).toEqual([]);
  });

  it("finds the events of a correlation id, short, long, random or sharing the indexed prefix with others, through its index", async () => {
    const dir = newDir();
    const store = open(dir);
    const prefix = "p".repeat(CORRELATION_KEY_LENGTH);
    const ids = ["flow-1", "0190f1c2-7d1e-7a3b-9c4d-5e6f70819a2b", `${prefix}a`, `${prefix}b`, prefix, randomBytes(512).toString("hex"), "ünïcødé ✓ ".repeat(100)];
    const events = Array.from({ length: 70 }, (_, n) =>
      Event.fromPartial({ id: `corr-${n}`, source: "test/sqlite-layout", type: "flow.step.done", correlationId: n % 8 === 7 ? "" : (ids[n % 8] as string) }),
    );
    await store.append(events, { dedupeWindowMs: 0 });
    for (const [i, correlationId] of ids.entries()) {
      const page = await store.query({ fromSequence: 1n, limit: 1000, correlationId });
      expect(page.events.map((stored) => stored.event.id)).toEqual(events.filter((_, n) => n % 8 === i).map((e) => e.id));
    }
    expect((await store.query({ fromSequence: 1n, limit: 1000, correlationId: `${prefix}c` })).events).toEqual([]);
    // The reads' terms are answered by the indexes, within the read's range of sequences.
    const db = new Database(join(dir, "events.db"), { readonly: true });
    defer(() => db.close());
    const plan = (term: string, ...params: unknown[]): string =>
      (db.prepare(`EXPLAIN QUERY PLAN SELECT seq FROM events WHERE seq >= ? AND seq < ? AND ${term} ORDER BY seq`).all(1, 20_000, ...params) as Array<{ detail: string }>)
        .map((row) => row.detail)
        .join("; ");
    expect(plan(HAS_CORRELATION, "flow-1", "flow-1")).toMatch(/USING INDEX events_by_correlation_prefix \(<expr>=\? AND seq>\? AND seq<\?\)/);
    expect(plan(HAS_TAG, 5n, 1, 20_000)).toMatch(/SEARCH event_tag_keys USING PRIMARY KEY \(tag_key=\? AND seq>\? AND seq<\?\)/);
  });

  it("moves a store of layout version 1 (tags' text, whole correlation ids) to this layout when it opens, and reads by tag as before", async () => {
    const dir = newDir();
    const first = createSqliteBackend({ dataDir: dir });
    const expected = await writeTagged(first);
    await first.close();
    // The layout of version 1: the tags' text, one row per tag and event.
    const db = new Database(join(dir, "events.db"));
    db.exec("CREATE TABLE event_tags (tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag, seq)) WITHOUT ROWID");
    const insert = db.prepare("INSERT OR IGNORE INTO event_tags (tag, seq) VALUES (?, ?)");
    for (const row of db.prepare("SELECT seq, body FROM events").all() as Array<{ seq: number; body: Buffer }>) {
      for (const tag of Event.decode(row.body).tags) insert.run(tag, row.seq);
    }
    const rows = (db.prepare("SELECT count(*) AS n FROM event_tags").get() as { n: number }).n;
    db.exec("DROP TABLE event_tag_keys");
    // And an index of the whole correlation ids.
    db.exec("DROP INDEX events_by_correlation_prefix");
    db.exec("CREATE INDEX events_by_correlation ON events (correlation_id, seq) WHERE correlation_id <> ''");
    db.prepare("UPDATE meta SET value = '1' WHERE key = 'schema_version'").run();
    db.close();

    const store = open(dir);
    for (const [tag, ids] of expected) expect(await idsWithTags(store, [tag])).toEqual(ids);
    await store.close();
    const after = new Database(join(dir, "events.db"), { readonly: true });
    defer(() => after.close());
    expect(after.prepare("SELECT name FROM sqlite_master WHERE name = 'event_tags'").get()).toBeUndefined();
    const indexes = (after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").all() as Array<{ name: string }>).map((r) => r.name);
    expect(indexes.sort()).toEqual(["events_by_correlation_prefix", "events_by_id", "events_by_type"]);
    expect((after.prepare("SELECT count(*) AS n FROM event_tag_keys").get() as { n: number }).n).toBe(rows);
    expect((after.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value).toBe("3");
  });

  it("refuses a store written by a newer layout with FAILED_PRECONDITION, and leaves it as it was", async () => {
    const dir = newDir();
    const first = createSqliteBackend({ dataDir: dir });
    await first.append([tagged(1, ["kept"])], { dedupeWindowMs: 0 });
    await first.close();
    const db = new Database(join(dir, "events.db"));
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    // As a later layout might: the tag index under another name.
    db.exec("ALTER TABLE event_tag_keys RENAME TO event_tag_keys_v99");
    const names = (d: Database.Database): string[] => (d.prepare("SELECT name FROM sqlite_master ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    const before = names(db);
    db.close();

    let refused: unknown;
    try {
      open(dir);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ProtobusError);
    expect((refused as ProtobusError).code).toBe(Code.FAILED_PRECONDITION);
    expect((refused as ProtobusError).message).toMatch(/layout version 99.*newer protobus server.*up to version 3/);
    const after = new Database(join(dir, "events.db"), { readonly: true });
    defer(() => after.close());
    expect((after.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value).toBe("99");
    expect(names(after)).toEqual(before);
    // The directory's lock was let go: the next server may take it.
    const db2 = new Database(join(dir, "events.db"));
    db2.prepare("UPDATE meta SET value = '3' WHERE key = 'schema_version'").run();
    db2.exec("ALTER TABLE event_tag_keys_v99 RENAME TO event_tag_keys");
    db2.close();
    const store = open(dir);
    expect(await idsWithTags(store, ["kept"])).toEqual(["tag-1"]);
  });
});
