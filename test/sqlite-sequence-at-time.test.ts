/**
 * The SQLite store finds events by time through their sequence (publish
 * times never go backwards along it), not through an index on the time:
 * a store written with that index loses it when opened, and lookups stay
 * right across gaps in the sequence (ranges a recovery lost) and over a
 * long log.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { createSqliteBackend, type SqliteStorageBackend } from "@protobus/server";
import { SequenceAtTime } from "../server/src/storage/sqlite/sequence-at-time.js";
import { tempDir } from "./support/test-server.js";

function event(n: number): Event {
  return Event.fromPartial({ id: `t-${n}`, source: "test/sqlite-sequence-at-time", type: "time.item.added", specVersion: "1.0" });
}

describe("the sqlite store's lookups by time", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function open(dataDir: string, now: () => Date): SqliteStorageBackend {
    const store = createSqliteBackend({ dataDir, now });
    cleanups.push(() => store.close());
    return store;
  }

  /**
   * A store in a new directory, written and closed: `commits` commits of two
   * events each, the clock moving on by `stepMs` from `startMs` before each.
   * Returns its directory and the clock at the last commit.
   */
  async function writtenStore(commits: number, startMs: number, stepMs: number): Promise<{ path: string; clock: number }> {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    let clock = startMs;
    const store = createSqliteBackend({ dataDir: dir.path, now: () => new Date(clock) });
    for (let i = 0; i < commits; i++) {
      clock += stepMs;
      await store.append([event(2 * i), event(2 * i + 1)], { dedupeWindowMs: 0 });
    }
    await store.close();
    return { path: dir.path, clock };
  }

  it("drops the time index of a store written with one, and answers the same", async () => {
    const written = await writtenStore(10, 1_000_000, 10);
    // The index a store of an earlier version has.
    const path = join(written.path, "events.db");
    const raw = new Database(path);
    raw.exec("CREATE INDEX IF NOT EXISTS events_by_time ON events (publish_time)");
    raw.close();

    const store = open(written.path, () => new Date(written.clock));
    const check = new Database(path, { readonly: true });
    const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").all() as Array<{ name: string }>;
    check.close();
    expect(indexes.map((i) => i.name).sort()).toEqual(["events_by_correlation_prefix", "events_by_id", "events_by_type"]);
    // Commit k (1-based) was published at 1,000,000 + 10k and holds sequences 2k-1 and 2k.
    expect(await store.sequenceAtTime(new Date(0))).toBe(1n);
    expect(await store.sequenceAtTime(new Date(1_000_010))).toBe(1n);
    expect(await store.sequenceAtTime(new Date(1_000_011))).toBe(3n);
    expect(await store.sequenceAtTime(new Date(1_000_050))).toBe(9n);
    expect(await store.sequenceAtTime(new Date(1_000_100))).toBe(19n);
    expect(await store.sequenceAtTime(new Date(1_000_101))).toBe(21n);
  });

  it("reopens at the newest row's sequence and publish time: later events neither reuse a sequence nor go back in time when the clock does", async () => {
    const written = await writtenStore(5, 5_000_000, 1_000);
    // The clock went back an hour while the server was down.
    const store = open(written.path, () => new Date(written.clock - 3_600_000));
    expect(await store.headSequence()).toBe(10n);
    const [added] = await store.append([event(100)], { dedupeWindowMs: 0 });
    expect(added?.sequence).toBe(11n);
    const { events } = await store.read({ afterSequence: 9n, limit: 10 });
    expect(events.map((e) => [e.sequence, e.event.publishTime?.getTime()])).toEqual([
      [10n, 5_005_000],
      [11n, 5_005_000],
    ]);
  });

  it("finds the first sequence at or after a time across gaps and over a long log", () => {
    const db = new Database(":memory:");
    cleanups.push(() => db.close());
    db.exec("CREATE TABLE events (seq INTEGER PRIMARY KEY, publish_time INTEGER NOT NULL)");
    const insert = db.prepare("INSERT INTO events (seq, publish_time) VALUES (?, ?)");
    // 20,000 rows, ten to a millisecond, with the ranges 5,001–5,999 and 12,000–12,500 missing.
    const rows: Array<[number, number]> = [];
    for (let seq = 1; seq <= 20_000; seq++) {
      if ((seq > 5_000 && seq < 6_000) || (seq >= 12_000 && seq <= 12_500)) continue;
      rows.push([seq, 50_000 + Math.floor(seq / 10)]);
    }
    db.transaction(() => rows.forEach(([seq, time]) => insert.run(seq, time)))();
    const lookup = new SequenceAtTime(db);
    const head = 20_000n;
    const expected = (time: number, upTo: number) => {
      const row = rows.find(([seq, published]) => published >= time && seq <= upTo);
      return row === undefined ? BigInt(upTo) + 1n : BigInt(row[0]);
    };
    for (const time of [0, 50_000, 50_001, 50_499, 50_500, 50_550, 50_599, 50_600, 51_199, 51_200, 51_250, 51_999, 52_000, 52_001, 60_000]) {
      expect(lookup.find(time, head)).toBe(expected(time, 20_000));
      // Rows past the head (not committed as far as readers know) are not answers.
      expect(lookup.find(time, 8_000n)).toBe(expected(time, 8_000));
    }
    const empty = new Database(":memory:");
    cleanups.push(() => empty.close());
    empty.exec("CREATE TABLE events (seq INTEGER PRIMARY KEY, publish_time INTEGER NOT NULL)");
    expect(new SequenceAtTime(empty).find(5, 0n)).toBe(1n);
  });
});
