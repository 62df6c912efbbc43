/**
 * `protobus recover`: the way out of a damaged SQLite store. It copies what
 * can still be read from `events.db` into a new file (events in sequence
 * order, stepping over damaged pages; groups, their state and dead letters;
 * schemas), rebuilds the indexes and the tag table from the events, checks
 * the new file, and swaps it in: the damaged file (and its WAL) is kept next
 * to it as `events.db.damaged-<time>`. Events on damaged pages are lost;
 * their sequences are reported, and later sequences keep counting after the
 * newest recovered one.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Code, ProtobusError } from "@protobus/sdk";
import { DataDirLock } from "./data-dir-lock.js";
import { EVENT_TABLES } from "./event-layout.js";
import { GROUP_SCHEMA } from "./group-persistence.js";
import { SCHEMA_STORE_TABLES } from "./schema-store.js";
import { integrityProblems } from "./integrity.js";
import { INSERT_TAG, TagRows, envelopeTags } from "./tag-index.js";

/** Options of {@link recoverSqliteStore}. */
export interface RecoverOptions {
  /** The data directory holding `events.db`. */
  readonly dataDir: string;
  /** Clock for the name of the kept damaged file; tests may pin it. */
  readonly now?: () => Date;
}

/** A range of sequences that could not be read. */
export interface LostRange {
  readonly from: number;
  readonly to: number;
}

/** What a recovery did. */
export interface RecoverReport {
  /** Events copied. */
  readonly events: number;
  /** Newest sequence copied (0 when none): new events are numbered after it. */
  readonly headSequence: number;
  /** Sequences that could not be read (within the old file's range). */
  readonly lost: readonly LostRange[];
  /** Rows copied per other table (groups, group state, dead letters, schemas). */
  readonly tables: Readonly<Record<string, { copied: number; unreadable: boolean }>>;
  /** Where the damaged file was moved. */
  readonly damagedFile: string;
  /** The recovered file (`events.db`). */
  readonly recoveredFile: string;
}

/** Tables copied row by row; the tag table and indexes are rebuilt from the events. */
const OTHER_TABLES = ["meta", "groups", "group_settled", "group_retries", "group_dead", "schemas", "schema_compatibility"] as const;

interface Row {
  readonly [column: string]: unknown;
}

/**
 * Recovers the store in `options.dataDir`. Takes the directory's lock, so it
 * refuses to run while a server uses it. Throws NOT_FOUND when there is no
 * `events.db`.
 */
export function recoverSqliteStore(options: RecoverOptions): RecoverReport {
  const path = join(options.dataDir, "events.db");
  if (!existsSync(path)) throw new ProtobusError(Code.NOT_FOUND, `no sqlite store at ${path}`);
  const lock = DataDirLock.take(options.dataDir);
  const target = `${path}.recovering`;
  try {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${target}${suffix}`, { force: true });
    const from = new Database(path, { fileMustExist: true });
    const to = new Database(target);
    let report: Omit<RecoverReport, "damagedFile" | "recoveredFile">;
    try {
      from.defaultSafeIntegers(true);
      to.defaultSafeIntegers(true);
      to.pragma("journal_mode = WAL");
      to.exec(EVENT_TABLES);
      to.exec(GROUP_SCHEMA);
      to.exec(SCHEMA_STORE_TABLES);
      const copied = copyEvents(from, to);
      const tables: Record<string, { copied: number; unreadable: boolean }> = {};
      for (const table of OTHER_TABLES) tables[table] = copyTable(from, to, table);
      const problems = integrityProblems(to, "full");
      if (problems.length > 0) {
        throw new ProtobusError(Code.DATA_LOSS, `the recovered copy does not pass integrity_check: ${problems.join("; ")}`);
      }
      to.pragma("wal_checkpoint(TRUNCATE)");
      report = { ...copied, tables };
    } finally {
      to.close();
      from.close();
    }
    const stamp = (options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, "-");
    const damagedFile = `${path}.damaged-${stamp}`;
    for (const suffix of ["-wal", "-shm", "-journal"]) {
      if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${damagedFile}${suffix}`);
    }
    renameSync(path, damagedFile);
    renameSync(target, path);
    for (const suffix of ["-wal", "-shm"]) rmSync(`${target}${suffix}`, { force: true });
    return { ...report, damagedFile, recoveredFile: path };
  } catch (error) {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${target}${suffix}`, { force: true });
    throw error;
  } finally {
    lock.release();
  }
}

/**
 * Copies events in sequence order. A read that fails (a damaged page) is
 * stepped over: the next readable sequence is found by probing ahead with
 * doubling steps, then bisecting back to the first sequence whose lookup
 * works, so that few readable events next to a damaged page are lost.
 */
function copyEvents(from: Database.Database, to: Database.Database): { events: number; headSequence: number; lost: LostRange[] } {
  const insert = to.prepare(
    "INSERT INTO events (seq, id, type, source, correlation_id, publish_time, expire_time, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const insertTag = to.prepare(INSERT_TAG);
  const scan = from.prepare("SELECT seq, id, type, source, correlation_id, publish_time, expire_time, body FROM events WHERE seq > ? ORDER BY seq");
  const firstAtOrAfter = from.prepare("SELECT seq FROM events WHERE seq >= ? ORDER BY seq LIMIT 1");
  const max = highestSequence(from);
  const lost: LostRange[] = [];
  let copied = 0;
  let after = 0;
  let head = 0;
  const probe = (at: number): number | undefined | "damaged" => {
    try {
      const row = firstAtOrAfter.get(at) as { seq: bigint } | undefined;
      return row === undefined ? undefined : Number(row.seq);
    } catch {
      return "damaged";
    }
  };
  const tagRows = new TagRows();
  const tx = to.transaction((rows: Row[]) => {
    // Rows a failed transaction queued are not this one's.
    tagRows.clear();
    for (const row of rows) {
      insert.run(row.seq, row.id, row.type, row.source, row.correlation_id, row.publish_time, row.expire_time, row.body);
      // The tag table is rebuilt from the envelopes: its own pages may be the
      // damaged ones. An envelope that does not decode keeps its row (reads
      // report it); it has no tags to index.
      tagRows.add(envelopeTags(row.body as Uint8Array), row.seq as bigint);
    }
    tagRows.flush(insertTag);
  });
  for (;;) {
    const batch: Row[] = [];
    let failed = false;
    try {
      for (const row of scan.iterate(after) as IterableIterator<Row>) {
        batch.push(row);
        if (batch.length >= 1000) {
          tx(batch.splice(0));
        }
        after = Number(row.seq);
        head = after;
        copied += 1;
      }
    } catch {
      failed = true;
    }
    if (batch.length > 0) tx(batch);
    if (!failed) break;
    // A damaged page after `after`: find the first sequence past it that reads.
    const next = nextReadable(probe, after, max);
    if (next !== undefined && next <= after + 1) {
      // Its key reads but the row does not (a damaged overflow page): lose that one row.
      addLost(lost, next, next);
      after = next;
      continue;
    }
    const lostTo = next === undefined ? (max ?? after + 1) : next - 1;
    if (lostTo > after) addLost(lost, after + 1, lostTo);
    if (next === undefined) break;
    after = next - 1;
  }
  return { events: copied, headSequence: head, lost };
}

/**
 * The first sequence after `after` whose lookup works, found by probing
 * ahead with doubling steps, then bisecting back between the last damaged
 * probe and the first that worked; undefined when none reads up to `max`.
 */
function nextReadable(probe: (at: number) => number | undefined | "damaged", after: number, max: number | undefined): number | undefined {
  let step = 1;
  let bad = after + 1;
  for (;;) {
    const at = after + step;
    if ((max !== undefined && at > max) || step > 2 ** 52) return undefined;
    const found = probe(at);
    if (found === "damaged") {
      bad = at;
      step *= 2;
      continue;
    }
    let next = found;
    let lo = bad;
    let hi = at;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const atMid = probe(mid);
      if (atMid === "damaged") lo = mid;
      else {
        hi = mid;
        if (atMid !== undefined) next = atMid;
      }
    }
    return next;
  }
}

/** Adds a lost range, merged with the previous one when they touch. */
function addLost(lost: LostRange[], from: number, to: number): void {
  const last = lost.at(-1);
  if (last !== undefined && last.to + 1 >= from) lost[lost.length - 1] = { from: last.from, to: Math.max(last.to, to) };
  else lost.push({ from, to });
}

/** The highest stored sequence, through the table or, when its last page is damaged, an index. */
function highestSequence(db: Database.Database): number | undefined {
  for (const sql of [
    "SELECT max(seq) AS m FROM events",
    "SELECT max(seq) AS m FROM events INDEXED BY events_by_type",
  ]) {
    try {
      const row = db.prepare(sql).get() as { m: bigint | null };
      return row.m === null ? 0 : Number(row.m);
    } catch {
      // Try the next way.
    }
  }
  return undefined;
}

/**
 * Copies one table: forward in key order up to a damaged page, then
 * backward from the end down to it, so that only the rows on the damaged
 * pages are lost.
 */
function copyTable(from: Database.Database, to: Database.Database, table: string): { copied: number; unreadable: boolean } {
  let columns: string[];
  let keys: string[];
  try {
    const info = from.pragma(`table_info(${table})`) as Array<{ name: string; pk: bigint | number }>;
    if (info.length === 0) return { copied: 0, unreadable: false };
    columns = info.map((c) => c.name);
    keys = info.filter((c) => Number(c.pk) > 0).sort((a, b) => Number(a.pk) - Number(b.pk)).map((c) => c.name);
  } catch {
    return { copied: 0, unreadable: true };
  }
  const targetColumns = new Set((to.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name));
  const shared = columns.filter((c) => targetColumns.has(c));
  const order = (keys.length > 0 ? keys : ["rowid"]).map((k) => `"${k}"`);
  const list = shared.map((c) => `"${c}"`).join(", ");
  const insert = to.prepare(`INSERT OR IGNORE INTO "${table}" (${list}) VALUES (${shared.map(() => "?").join(", ")})`);
  let copied = 0;
  let unreadable = false;
  for (const direction of ["ASC", "DESC"]) {
    const rows: Row[] = [];
    try {
      for (const row of from.prepare(`SELECT ${list} FROM "${table}" ORDER BY ${order.map((k) => `${k} ${direction}`).join(", ")}`).iterate() as IterableIterator<Row>) {
        rows.push(row);
      }
    } catch {
      unreadable = true;
    }
    to.transaction(() => {
      for (const row of rows) copied += insert.run(...shared.map((c) => row[c])).changes;
    })();
    // Read whole going forward: nothing to read backward.
    if (!unreadable) break;
  }
  return { copied, unreadable };
}
