/**
 * Consumer-group state in the SQLite file, next to the events: one row per
 * group (definition, floor, counters), acked sequences above the floor,
 * retry records and dead letters. The engine hands over one batch per
 * commit (at the end of a tick, or up to 50 ms later for unconfirmed acks
 * alone), committed here in one transaction.
 */
import type Database from "better-sqlite3";
import { DEFAULT_GROUP_SETTINGS, type GroupDefinition, type GroupSettings } from "../group-store.js";
import { zeroCounters } from "../groups/group-persistence.js";
import type * as persistence from "../groups/group-persistence.js";
import { sqliteError } from "./errors.js";

/** The tables, created when missing. */
export const GROUP_SCHEMA = `
CREATE TABLE IF NOT EXISTS groups (
  name TEXT PRIMARY KEY,
  patterns TEXT NOT NULL,
  filter TEXT NOT NULL,
  settings TEXT NOT NULL,
  created INTEGER NOT NULL,
  floor INTEGER NOT NULL,
  counters TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_settled (grp TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (grp, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_retries (
  grp TEXT NOT NULL, seq INTEGER NOT NULL, attempts INTEGER NOT NULL, due_at INTEGER NOT NULL, reason TEXT NOT NULL,
  PRIMARY KEY (grp, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_dead (
  grp TEXT NOT NULL, seq INTEGER NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL, dead_at INTEGER NOT NULL,
  PRIMARY KEY (grp, seq)
) WITHOUT ROWID;
`;

interface GroupRow {
  name: string;
  patterns: string;
  filter: string;
  settings: string;
  created: bigint;
  floor: bigint;
  counters: string;
}

interface DeadRow {
  seq: bigint;
  attempts: bigint;
  reason: string;
  dead_at: bigint;
}

/** A JSON array of strings, or a thrown error saying what it is instead. */
function parseStringList(json: string): string[] {
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new TypeError("patterns are not a list of strings");
  return value;
}

function deadRecord(row: DeadRow): persistence.DeadRecord {
  return { sequence: Number(row.seq), attempts: Number(row.attempts), reason: row.reason, deadAt: Number(row.dead_at) };
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string): Database.Statement => db.prepare(sql);
  return {
    insertGroup: p("INSERT INTO groups (name, patterns, filter, settings, created, floor, counters) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    settings: p("UPDATE groups SET settings = ? WHERE name = ?"),
    progress: p("UPDATE groups SET floor = ?, counters = ? WHERE name = ?"),
    pruneSettled: p("DELETE FROM group_settled WHERE grp = ? AND seq <= ?"),
    settle: p("INSERT OR IGNORE INTO group_settled (grp, seq) VALUES (?, ?)"),
    clearRetry: p("DELETE FROM group_retries WHERE grp = ? AND seq = ?"),
    retry: p("INSERT OR REPLACE INTO group_retries (grp, seq, attempts, due_at, reason) VALUES (?, ?, ?, ?, ?)"),
    dead: p("INSERT OR REPLACE INTO group_dead (grp, seq, attempts, reason, dead_at) VALUES (?, ?, ?, ?, ?)"),
    listDead: p("SELECT seq, attempts, reason, dead_at FROM group_dead WHERE grp = ? AND seq > ? ORDER BY seq LIMIT ?"),
    countDead: p("SELECT count(*) AS n FROM group_dead WHERE grp = ?"),
    oneDead: p("SELECT seq, attempts, reason, dead_at FROM group_dead WHERE grp = ? AND seq = ?"),
    allDead: p("SELECT seq, attempts, reason, dead_at FROM group_dead WHERE grp = ? ORDER BY seq"),
    dropDead: p("DELETE FROM group_dead WHERE grp = ? AND seq = ?"),
    dropAllDead: p("DELETE FROM group_dead WHERE grp = ?"),
    settledOf: p("SELECT seq FROM group_settled WHERE grp = ? AND seq > ?"),
    deadAbove: p("SELECT seq FROM group_dead WHERE grp = ? AND seq > ?"),
    retriesOf: p("SELECT seq, attempts, due_at, reason FROM group_retries WHERE grp = ?"),
  };
}

/** {@link GroupPersistence} in a better-sqlite3 database (schema from {@link GROUP_SCHEMA}). */
export class SqliteGroupPersistence implements persistence.GroupPersistence {
  readonly #db: Database.Database;
  readonly #s: ReturnType<typeof prepareStatements>;
  readonly #commitTx: (name: string, batch: persistence.GroupBatch) => void;
  readonly #afterCommit: () => void;

  /** `afterCommit` is told after each commit of group state (the store checkpoints its WAL after writes). */
  constructor(db: Database.Database, afterCommit: () => void = () => undefined) {
    this.#db = db;
    this.#afterCommit = afterCommit;
    db.exec(GROUP_SCHEMA);
    this.#s = prepareStatements(db);
    this.#commitTx = db.transaction((name: string, batch: persistence.GroupBatch) => {
      const s = this.#s;
      s.progress.run(batch.floor, JSON.stringify(batch.counters), name);
      s.pruneSettled.run(name, batch.floor);
      for (const seq of batch.settled) s.settle.run(name, seq);
      for (const seq of batch.clearedRetries) s.clearRetry.run(name, seq);
      for (const r of batch.retries) s.retry.run(name, r.sequence, r.attempts, r.dueAt, r.reason);
      for (const d of batch.dead) s.dead.run(name, d.sequence, d.attempts, d.reason, d.deadAt);
    });
  }

  #run<T>(operation: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw sqliteError(operation, error);
    }
  }

  loadAll(): persistence.PersistedGroup[] {
    return this.#run("load groups", () => {
      const rows = this.#db.prepare("SELECT * FROM groups ORDER BY name").all() as GroupRow[];
      return rows.map((row) => this.#persisted(row));
    });
  }

  load(name: string): persistence.PersistedGroup | undefined {
    return this.#run("load group", () => {
      const row = this.#db.prepare("SELECT * FROM groups WHERE name = ?").get(name) as GroupRow | undefined;
      return row === undefined ? undefined : this.#persisted(row);
    });
  }

  /** A stored row with its settled sequences, dead letters above the floor and retries. */
  #persisted(row: GroupRow): persistence.PersistedGroup {
    const floor = Number(row.floor);
    const settled = (this.#s.settledOf.all(row.name, floor) as Array<{ seq: bigint }>).map((r) => Number(r.seq));
    const dead = (this.#s.deadAbove.all(row.name, floor) as Array<{ seq: bigint }>).map((r) => Number(r.seq));
    const retries = (this.#s.retriesOf.all(row.name) as Array<{ seq: bigint; attempts: bigint; due_at: bigint; reason: string }>).map(
      (r): persistence.RetryRecord => ({ sequence: Number(r.seq), attempts: Number(r.attempts), dueAt: Number(r.due_at), reason: r.reason }),
    );
    try {
      const definition: GroupDefinition = {
        name: row.name,
        patterns: parseStringList(row.patterns),
        filter: row.filter,
        settings: { ...DEFAULT_GROUP_SETTINGS, ...(JSON.parse(row.settings) as Partial<GroupSettings>) },
        createdAt: new Date(Number(row.created)),
      };
      const counters = { ...zeroCounters(), ...(JSON.parse(row.counters) as Partial<persistence.GroupCounters>) };
      return { definition, floor, counters, settled, deadAboveFloor: dead, retries };
    } catch (error) {
      // One unreadable row makes one broken group, not a server that cannot start.
      return {
        definition: { name: row.name, patterns: [], filter: row.filter, settings: DEFAULT_GROUP_SETTINGS, createdAt: new Date(Number(row.created)) },
        floor,
        counters: zeroCounters(),
        settled: [],
        deadAboveFloor: [],
        retries: [],
        problem: `its stored row does not read: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  create(definition: GroupDefinition, floor: number): void {
    this.#run("create group", () =>
      this.#s.insertGroup.run(
        definition.name,
        JSON.stringify(definition.patterns),
        definition.filter,
        JSON.stringify(definition.settings),
        definition.createdAt.getTime(),
        floor,
        JSON.stringify(zeroCounters()),
      ),
    );
  }

  updateSettings(name: string, settings: GroupSettings): void {
    this.#run("update group", () => this.#s.settings.run(JSON.stringify(settings), name));
  }

  commit(name: string, batch: persistence.GroupBatch): void {
    this.#run("commit group state", () => this.#commitTx(name, batch));
    this.#afterCommit();
  }

  delete(name: string): void {
    this.#run("delete group", () =>
      this.#db.transaction(() => {
        for (const table of ["groups", "group_settled", "group_retries", "group_dead"]) {
          this.#db.prepare(`DELETE FROM ${table} WHERE ${table === "groups" ? "name" : "grp"} = ?`).run(name);
        }
      })(),
    );
  }

  listDead(name: string, afterSequence: number, limit: number): persistence.DeadRecord[] {
    return this.#run("list dead letters", () => (this.#s.listDead.all(name, afterSequence, limit) as DeadRow[]).map(deadRecord));
  }

  countDead(name: string): number {
    return this.#run("count dead letters", () => Number((this.#s.countDead.get(name) as { n: bigint }).n));
  }

  atomically<T>(fn: () => T): T {
    return this.#run("group transaction", () => this.#db.transaction(fn)());
  }

  takeDead(name: string, selection: persistence.DeadSelection): persistence.DeadRecord[] {
    return this.#run("take dead letters", () =>
      this.#db.transaction(() => {
        if ("all" in selection) {
          const rows = (this.#s.allDead.all(name) as DeadRow[]).map(deadRecord);
          this.#s.dropAllDead.run(name);
          return rows;
        }
        const taken: persistence.DeadRecord[] = [];
        for (const seq of selection.sequences) {
          const row = this.#s.oneDead.get(name, seq) as DeadRow | undefined;
          if (row === undefined) continue;
          this.#s.dropDead.run(name, seq);
          taken.push(deadRecord(row));
        }
        return taken.sort((a, b) => a.sequence - b.sequence);
      })(),
    );
  }
}
