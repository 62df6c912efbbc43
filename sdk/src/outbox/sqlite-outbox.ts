/**
 * The transactional outbox on SQLite (better-sqlite3, an optional peer
 * dependency): `publish(db, event)` inserts the event into the outbox table
 * in the caller's transaction; a relay publishes committed rows in commit
 * order.
 *
 * SQLite has one writer at a time and hands out AUTOINCREMENT ids under the
 * write lock, so row ids follow commit order. One relay at a time holds a
 * lease row (renewed while it runs; taken over when it expires, or at once
 * when its process is gone from this host); a relay
 * notices new commits by polling `PRAGMA data_version`, which costs no read
 * of the table.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { EventInput } from "../event-input.js";
import { outboxEnvelopes } from "./outbox-envelope.js";
import type { OutboxBacklog, OutboxOutcome, OutboxRow, OutboxStore } from "./outbox-store.js";
import { sqlIdentifier } from "./sql-names.js";

/** A prepared statement of better-sqlite3, as far as the outbox uses it. */
export interface SqliteStatement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}

/** A better-sqlite3 `Database`, as far as the outbox uses it. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
}

/** Options of {@link createSqliteOutbox}. */
export interface SqliteOutboxOptions {
  /** The outbox table (default `protobus_outbox`). */
  readonly table?: string;
  /** `source` of events written without one (default `protobus-outbox`). */
  readonly source?: string;
}

/** Options of a SQLite relay store. */
export interface SqliteRelayStoreOptions {
  /** How long a relay's lead lasts without renewal, in ms (default 10 s): a killed relay is replaced after it. */
  readonly leaseMs?: number;
  /** How often to look for new commits while idle, in ms (default 20). */
  readonly pollMs?: number;
}

/** An outbox table in a SQLite database. */
export interface SqliteOutbox {
  /** The table. */
  readonly table: string;
  /** Creates the table, its index and the relay's lease table when absent. */
  install(db: SqliteDatabase): void;
  /** Drops what `install` created. */
  uninstall(db: SqliteDatabase): void;
  /**
   * Writes events into the outbox on the caller's connection, inside its
   * transaction (`db.transaction(() => { ...; outbox.publish(db, event) })()`):
   * they are published if and only if it commits. Returns their ids.
   */
  publish(db: SqliteDatabase, event: EventInput): string;
  publish(db: SqliteDatabase, events: readonly EventInput[]): string[];
  /**
   * The relay's side of the table, on a connection of its own: the
   * database file's path (opened with better-sqlite3), or an open database
   * the store then owns and closes.
   */
  relayStore(database: string | SqliteDatabase, options?: SqliteRelayStoreOptions): OutboxStore;
}

/**
 * Describes an outbox table in a SQLite database.
 *
 * @example
 * const outbox = createSqliteOutbox();
 * outbox.install(db);
 * db.transaction(() => {
 *   db.prepare("INSERT INTO orders (id) VALUES (?)").run("o-1");
 *   outbox.publish(db, { type: "shop.order.placed", data: { orderId: "o-1" } });
 * })();
 */
export function createSqliteOutbox(options: SqliteOutboxOptions = {}): SqliteOutbox {
  const table = sqlIdentifier(options.table ?? "protobus_outbox", "outbox table");
  const lease = `${table}_relay`;
  const source = options.source ?? "protobus-outbox";
  const inserts = new WeakMap<SqliteDatabase, SqliteStatement>();

  function publish(db: SqliteDatabase, input: EventInput | readonly EventInput[]): string | string[] {
    const list = Array.isArray(input) ? (input as readonly EventInput[]) : [input as EventInput];
    let insert = inserts.get(db);
    if (insert === undefined) {
      insert = db.prepare(`INSERT INTO "${table}" (event_id, event_type, ordering_key, envelope, created_at) VALUES (?, ?, ?, ?, ?)`);
      inserts.set(db, insert);
    }
    const now = Date.now();
    const envelopes = outboxEnvelopes(list, source);
    for (const e of envelopes) insert.run(e.id, e.type, e.orderingKey, Buffer.from(e.bytes), now);
    const ids = envelopes.map((e) => e.id);
    return Array.isArray(input) ? ids : (ids[0] as string);
  }

  return {
    table,
    install(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS "${table}" (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          event_id TEXT NOT NULL,
          event_type TEXT NOT NULL,
          ordering_key TEXT NOT NULL DEFAULT '',
          envelope BLOB NOT NULL,
          created_at INTEGER NOT NULL,
          published_at INTEGER,
          sequence INTEGER,
          error TEXT
        );
        CREATE INDEX IF NOT EXISTS "${table}_pending" ON "${table}" (id) WHERE published_at IS NULL;
        CREATE TABLE IF NOT EXISTS "${lease}" (
          id INTEGER PRIMARY KEY CHECK (id = 1),
          owner TEXT NOT NULL,
          expires_at INTEGER NOT NULL
        );
      `);
    },
    uninstall(db) {
      db.exec(`DROP TABLE IF EXISTS "${table}"; DROP TABLE IF EXISTS "${lease}";`);
    },
    publish: publish as SqliteOutbox["publish"],
    relayStore(database, storeOptions = {}) {
      return new SqliteRelayStore(database, table, lease, storeOptions);
    },
  };
}

/** True when a lease owner ran on this host and its process no longer exists. */
function ownerGone(owner: string): boolean {
  const [host, pid] = owner.split("/");
  if (host !== hostname() || pid === undefined || !/^\d+$/.test(pid) || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

class SqliteRelayStore implements OutboxStore {
  readonly name: string;
  readonly #source: string | SqliteDatabase;
  readonly #table: string;
  readonly #lease: string;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  // host, pid and a nonce: a lease of a process gone from this host is free at once.
  readonly #owner = `${hostname()}/${process.pid}/${randomUUID()}`;
  #db: SqliteDatabase | undefined;
  #renewAt = 0;
  #leading = false;
  #dataVersion = -1;

  constructor(source: string | SqliteDatabase, table: string, lease: string, options: SqliteRelayStoreOptions) {
    this.name = table;
    this.#source = source;
    this.#table = table;
    this.#lease = lease;
    this.#leaseMs = Math.max(100, options.leaseMs ?? 10_000);
    this.#pollMs = Math.max(1, options.pollMs ?? 20);
  }

  async #open(): Promise<SqliteDatabase> {
    if (this.#db !== undefined) return this.#db;
    if (typeof this.#source === "string") {
      const Database = (await import("better-sqlite3")).default;
      const db = new Database(this.#source, { timeout: 5_000 }) as unknown as SqliteDatabase;
      db.pragma("journal_mode = WAL");
      this.#db = db;
    } else {
      this.#db = this.#source;
    }
    return this.#db;
  }

  async lead(): Promise<boolean> {
    const now = Date.now();
    if (this.#leading && now < this.#renewAt) return true;
    const db = await this.#open();
    db.exec("BEGIN IMMEDIATE");
    try {
      const row = db.prepare(`SELECT owner, expires_at FROM "${this.#lease}" WHERE id = 1`).get() as { owner: string; expires_at: number } | undefined;
      const free = row === undefined || row.owner === this.#owner || row.expires_at <= now || ownerGone(row.owner);
      if (free) {
        db.prepare(`INSERT INTO "${this.#lease}" (id, owner, expires_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`).run(
          this.#owner,
          now + this.#leaseMs,
        );
      }
      db.exec("COMMIT");
      this.#leading = free;
      this.#renewAt = now + this.#leaseMs / 3;
      return free;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  async read(limit: number): Promise<OutboxRow[]> {
    const db = await this.#open();
    this.#dataVersion = db.pragma("data_version", { simple: true }) as number;
    const rows = db
      .prepare(`SELECT id, envelope, created_at FROM "${this.#table}" WHERE published_at IS NULL ORDER BY id LIMIT ?`)
      .all(limit) as Array<{ id: number; envelope: Buffer; created_at: number }>;
    return rows.map((r) => ({ id: String(r.id), envelope: r.envelope, createdAt: new Date(r.created_at) }));
  }

  async settle(outcomes: readonly OutboxOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const db = await this.#open();
    const mark = db.prepare(`UPDATE "${this.#table}" SET published_at = ?, sequence = ?, error = ? WHERE id = ?`);
    const now = Date.now();
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const o of outcomes) mark.run(now, o.published ? o.sequence : null, o.published ? null : o.error, Number(o.id));
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  async waitForRows(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const db = await this.#open();
    const deadline = Date.now() + timeoutMs;
    while (!signal.aborted && Date.now() < deadline) {
      // Changes when another connection commits; reading it reads no table.
      if ((db.pragma("data_version", { simple: true }) as number) !== this.#dataVersion) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(this.#pollMs, Math.max(1, deadline - Date.now())));
        function done(): void {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        }
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  async backlog(): Promise<OutboxBacklog> {
    const db = await this.#open();
    const row = db.prepare(`SELECT count(*) AS count, min(created_at) AS oldest FROM "${this.#table}" WHERE published_at IS NULL`).get() as {
      count: number;
      oldest: number | null;
    };
    return { count: row.count, oldest: row.oldest === null ? undefined : new Date(row.oldest) };
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db === undefined) return;
    if (this.#leading) {
      // Hand the lead over at once instead of after the lease.
      db.prepare(`DELETE FROM "${this.#lease}" WHERE id = 1 AND owner = ?`).run(this.#owner);
      this.#leading = false;
    }
    db.close();
  }
}
