/**
 * The SQLite backend, the embedded default: one file under the data
 * directory, written through better-sqlite3 in WAL mode. An append returns
 * after its transaction commits, so an acknowledged publish survives a
 * `kill -9` of the server (and, with `synchronous: "full"`, a power loss).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Event } from "@protobus/sdk/proto";
import { Code, ProtobusError } from "@protobus/sdk";
import type { PatternMatcher } from "@protobus/sdk/internal";
import { Listeners } from "../listeners.js";
import type { GroupStore } from "../group-store.js";
import { EngineGroupStore } from "../groups/engine-group-store.js";
import type {
  AppendListener,
  AppendOptions,
  AppendResult,
  BackendInfo,
  HistoryQuery,
  ReadRequest,
  ReadResult,
  StorageBackend,
} from "../backend.js";
import { matchesHistoryQuery } from "../history-filter.js";
import { StoredEvent, encodeEnvelope } from "../stored-event.js";
import { sqliteError } from "./errors.js";
import { SqliteGroupPersistence } from "./group-persistence.js";
import { SqliteSchemaStore } from "./schema-store.js";

/** Options of {@link createSqliteBackend}. */
export interface SqliteBackendOptions {
  /** Directory of the database file (`events.db`); created when missing. */
  readonly dataDir: string;
  /**
   * `normal` (default): a commit is safe from a crash of the server process;
   * `full`: also from a crash of the machine, at the cost of an fsync per
   * commit.
   */
  readonly synchronous?: "normal" | "full";
  /** How many of the newest events to keep in memory for live readers. */
  readonly recentCacheSize?: number;
  /** Clock used for publish times; tests may pin it. */
  readonly now?: () => Date;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  source TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  publish_time INTEGER NOT NULL,
  expire_time INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_id ON events (id);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, seq);
CREATE INDEX IF NOT EXISTS events_by_correlation ON events (correlation_id, seq) WHERE correlation_id <> '';
CREATE INDEX IF NOT EXISTS events_by_time ON events (publish_time);
CREATE TABLE IF NOT EXISTS event_tags (tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag, seq)) WITHOUT ROWID;
`;

interface EventRow {
  seq: bigint;
  type: string;
  expire_time: bigint;
  body: Buffer;
}

/** An append waiting for its group commit. */
interface PendingAppend {
  readonly events: readonly Event[];
  readonly options: AppendOptions;
  resolve(results: AppendResult[]): void;
  reject(error: unknown): void;
}

/** What one append stored, in its transaction. */
interface AppendOutcome {
  readonly results: AppendResult[];
  readonly added: StoredEvent[];
}

function fromRow(row: EventRow): StoredEvent {
  return new StoredEvent(row.seq, row.type, row.body, Number(row.expire_time));
}

/**
 * A row of `#readAfter`, read as an array (`seq, type, expire_time,
 * length(body)`): better-sqlite3 builds an array faster than an object with
 * named fields, and reads scan many rows. The bodies of the same rows come
 * from `#readBodiesAfter`, concatenated into one blob: one buffer per read
 * instead of one per row (≈1.7 µs per row with a buffer each, ≈1 µs so).
 */
type RawEventRow = [seq: bigint, type: string, expireTime: bigint, bodyLength: bigint];

/**
 * Most bytes of envelopes one read returns (but always at least one event):
 * a read of many large events stops early and the reader asks again.
 */
const MAX_READ_BYTES = 8 * 1024 * 1024;

class SqliteBackend implements StorageBackend {
  readonly info: BackendInfo;
  readonly groups: GroupStore & { close(): void };
  readonly schemas: SqliteSchemaStore;
  readonly #db: Database.Database;
  readonly #notifier = new Listeners<[headSequence: bigint]>();
  readonly #now: () => Date;
  readonly #recent: StoredEvent[] = [];
  readonly #recentCapacity: number;
  #head: bigint;
  #lastPublishMs: number;
  #closed = false;

  readonly #insertEvent: Database.Statement;
  readonly #insertTag: Database.Statement;
  readonly #findById: Database.Statement;
  readonly #readAfter: Database.Statement;
  readonly #readBodiesAfter: Database.Statement;
  readonly #atTime: Database.Statement;
  readonly #bySequence: Database.Statement;
  readonly #typesAfter: Database.Statement;
  readonly #appendTx: (appends: readonly PendingAppend[], now: Date) => AppendOutcome[];
  /** Appends waiting for the next group commit. */
  #pending: PendingAppend[] = [];
  #commitScheduled = false;

  constructor(options: SqliteBackendOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    const path = join(options.dataDir, "events.db");
    this.info = { kind: "sqlite", durable: true, location: path };
    this.#now = options.now ?? (() => new Date());
    this.#recentCapacity = options.recentCacheSize ?? 16_384;
    try {
      this.#db = new Database(path);
      this.#db.defaultSafeIntegers(true);
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      // One server owns a data directory: take the lock now and keep it, so a
      // second server on the same directory fails at start, not mid-write.
      this.#db.pragma("locking_mode = EXCLUSIVE");
      this.#db.pragma("busy_timeout = 0");
      this.#db.exec("BEGIN IMMEDIATE; COMMIT;");
      this.#db.exec(SCHEMA);
      this.#db
        .prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING")
        .run(String(SCHEMA_VERSION));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) {
        throw new ProtobusError(
          Code.FAILED_PRECONDITION,
          `data directory ${options.dataDir} is in use by another protobus server`,
          [],
          { cause: error },
        );
      }
      throw sqliteError("open", error);
    }
    const head = this.#db.prepare("SELECT coalesce(max(seq), 0) AS head, coalesce(max(publish_time), 0) AS last FROM events").get() as {
      head: bigint;
      last: bigint;
    };
    this.#head = head.head;
    this.schemas = new SqliteSchemaStore(this.#db, this.#now);
    this.#lastPublishMs = Number(head.last);

    this.#insertEvent = this.#db.prepare(
      "INSERT INTO events (seq, id, type, source, correlation_id, publish_time, expire_time, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#insertTag = this.#db.prepare("INSERT OR IGNORE INTO event_tags (tag, seq) VALUES (?, ?)");
    this.#findById = this.#db.prepare("SELECT seq, type, expire_time, body FROM events WHERE id = ? ORDER BY seq DESC LIMIT 1");
    this.#readAfter = this.#db.prepare("SELECT seq, type, expire_time, length(body) FROM events WHERE seq > ? ORDER BY seq LIMIT ?").raw(true);
    // The same rows' bodies, back to back (CAST keeps the bytes as they are).
    this.#readBodiesAfter = this.#db
      .prepare("SELECT CAST(group_concat(body, x'' ORDER BY seq) AS BLOB) FROM (SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?)")
      .pluck(true);
    this.#atTime = this.#db.prepare("SELECT seq FROM events WHERE publish_time >= ? ORDER BY publish_time, seq LIMIT 1");
    this.#bySequence = this.#db.prepare("SELECT seq, type, expire_time, body FROM events WHERE seq = ?");
    this.#typesAfter = this.#db.prepare("SELECT type, count(*) AS n FROM events WHERE seq > ? GROUP BY type");
    // One transaction for every append that arrived since the last commit.
    this.#appendTx = this.#db.transaction((appends: readonly PendingAppend[], now: Date) => {
      let sequence = this.#head;
      return appends.map((append) => {
        const outcome = this.#insertRows(append.events, append.options, now, sequence);
        sequence = outcome.added.at(-1)?.sequence ?? sequence;
        return outcome;
      });
    });
    let persistence: SqliteGroupPersistence;
    try {
      persistence = new SqliteGroupPersistence(this.#db);
    } catch (error) {
      this.#db.close();
      throw sqliteError("open groups", error);
    }
    this.groups = new EngineGroupStore(
      {
        read: (request) => this.read(request),
        readSequences: async (sequences) => this.#readSequences(sequences),
        headSequence: () => this.headSequence(),
        countAfter: async (afterSequence, matcher) => this.#countAfter(afterSequence, matcher),
        onAppend: (listener) => this.onAppend(listener),
      },
      persistence,
    );
  }

  /** Inserts one append's events after `head`, inside the open transaction. */
  #insertRows(events: readonly Event[], options: AppendOptions, now: Date, head: bigint): AppendOutcome {
    const results: AppendResult[] = [];
    const added: StoredEvent[] = [];
    const batchIds = new Map<string, StoredEvent>();
    let sequence = head;
    for (let i = 0; i < events.length; i++) {
      const input = events[i] as Event;
      // A server-assigned id is new: no index lookup for it.
      const assigned = options.assignedIds?.[i] === true;
      const duplicate = assigned ? undefined : this.#findDuplicate(input.id, batchIds, options.dedupeWindowMs, now.getTime());
      if (duplicate !== undefined) {
        results.push({ id: input.id, sequence: duplicate, duplicate: true });
        continue;
      }
      sequence += 1n;
      // Only the encoded envelope is kept (in the recent cache for live
      // readers): the decoded input would hold its objects and a slice of
      // the whole request buffer per event, ~100 MB over the cache.
      const stored = new StoredEvent(sequence, input.type, encodeEnvelope({ ...input, sequence, publishTime: now }), input.expireTime?.getTime() ?? 0, undefined, input);
      this.#insertEvent.run(sequence, input.id, input.type, input.source, input.correlationId, now.getTime(), stored.expireAtMs, stored.bytes);
      for (const tag of new Set(input.tags)) this.#insertTag.run(tag, sequence);
      if (!assigned) batchIds.set(input.id, stored);
      added.push(stored);
      results.push({ id: input.id, sequence, duplicate: false });
    }
    return { results, added };
  }

  #findDuplicate(id: string, batchIds: Map<string, StoredEvent>, windowMs: number, nowMs: number): bigint | undefined {
    if (windowMs <= 0) return undefined;
    const inBatch = batchIds.get(id);
    if (inBatch !== undefined) return inBatch.sequence;
    const row = this.#findById.get(id) as EventRow | undefined;
    if (row === undefined) return undefined;
    const stored = fromRow(row);
    const published = stored.event.publishTime?.getTime() ?? 0;
    return nowMs - published <= windowMs ? stored.sequence : undefined;
  }

  #readSequences(sequences: readonly number[]): StoredEvent[] {
    this.#assertOpen();
    const out: StoredEvent[] = [];
    try {
      for (const seq of sequences) {
        const row = this.#bySequence.get(seq) as EventRow | undefined;
        if (row !== undefined) out.push(fromRow(row));
      }
    } catch (error) {
      throw sqliteError("read", error);
    }
    return out;
  }

  #countAfter(afterSequence: number, matcher: PatternMatcher): number {
    this.#assertOpen();
    if (afterSequence >= Number(this.#head)) return 0;
    let count = 0;
    try {
      for (const row of this.#typesAfter.all(afterSequence) as Array<{ type: string; n: bigint }>) {
        if (matcher.matches(row.type)) count += Number(row.n);
      }
    } catch (error) {
      throw sqliteError("count", error);
    }
    return count;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ProtobusError(Code.UNAVAILABLE, "the sqlite store is closed");
  }

  /**
   * Appends arriving together (one event-loop turn: several publish streams,
   * several requests of one stream) share one transaction, a group commit:
   * each resolves once the commit that holds it is done.
   */
  append(events: readonly Event[], options: AppendOptions): Promise<AppendResult[]> {
    this.#assertOpen();
    return new Promise((resolve, reject) => {
      this.#pending.push({ events, options, resolve, reject });
      if (!this.#commitScheduled) {
        this.#commitScheduled = true;
        setImmediate(() => this.#commit());
      }
    });
  }

  #commit(): void {
    this.#commitScheduled = false;
    const appends = this.#pending;
    this.#pending = [];
    if (appends.length === 0) return;
    if (this.#closed) {
      for (const append of appends) append.reject(new ProtobusError(Code.UNAVAILABLE, "the sqlite store is closed"));
      return;
    }
    // Publish times never go backwards along the sequence, even if the clock does.
    this.#lastPublishMs = Math.max(this.#lastPublishMs, this.#now().getTime());
    const now = new Date(this.#lastPublishMs);
    let outcomes: AppendOutcome[];
    try {
      outcomes = this.#appendTx(appends, now);
    } catch (error) {
      if (appends.length === 1) {
        (appends[0] as PendingAppend).reject(sqliteError("append", error));
        return;
      }
      // The group failed as a whole: commit each on its own, so that only
      // the append at fault fails.
      for (const append of appends) {
        try {
          this.#settle([append], this.#appendTx([append], now));
        } catch (single) {
          append.reject(sqliteError("append", single));
        }
      }
      return;
    }
    this.#settle(appends, outcomes);
  }

  /** After a commit: moves the head, feeds the recent cache and live readers, answers the appends. */
  #settle(appends: readonly PendingAppend[], outcomes: readonly AppendOutcome[]): void {
    const head = this.#head;
    for (const outcome of outcomes) {
      const last = outcome.added.at(-1);
      if (last === undefined) continue;
      this.#head = last.sequence;
      for (const stored of outcome.added) this.#recent.push(stored);
    }
    if (this.#recent.length > this.#recentCapacity * 2) this.#recent.splice(0, this.#recent.length - this.#recentCapacity);
    if (this.#head !== head) this.#notifier.notify(this.#head);
    appends.forEach((append, i) => append.resolve((outcomes[i] as AppendOutcome).results));
  }

  async read(request: ReadRequest): Promise<ReadResult> {
    this.#assertOpen();
    const first = this.#recent[0];
    if (first !== undefined && request.afterSequence >= first.sequence - 1n) {
      return this.#readRecent(request, first.sequence);
    }
    // Rows are read in chunks that start at the limit and grow while the
    // matcher skips rows, up to a bounded scan: reading the whole bound up
    // front cost sixteen rows (with their bodies) per event returned when
    // every row matches.
    const scanLimit = Math.max(request.limit * 16, 4096);
    const events: StoredEvent[] = [];
    let scannedTo = request.afterSequence;
    let scanned = 0;
    let bytes = 0;
    let chunk = request.limit;
    while (events.length < request.limit && scanned < scanLimit) {
      const want = Math.min(chunk, scanLimit - scanned);
      let rows: RawEventRow[];
      try {
        rows = this.#readAfter.all(scannedTo, want) as RawEventRow[];
      } catch (error) {
        throw sqliteError("read", error);
      }
      // The rows whose bodies fit in this read's byte budget (at least one
      // per read): large events are read a few at a time, not a thousand.
      let take = 0;
      let size = 0;
      for (const row of rows) {
        const length = Number(row[3]);
        if (bytes + size + length > MAX_READ_BYTES && bytes + size > 0) break;
        size += length;
        take += 1;
      }
      if (take === 0) break;
      let bodies: Buffer;
      try {
        // Both statements run back to back on this connection, which is the
        // only writer: they see the same rows.
        bodies = this.#readBodiesAfter.get(scannedTo, take) as Buffer;
      } catch (error) {
        throw sqliteError("read", error);
      }
      let offset = 0;
      for (let i = 0; i < take; i++) {
        const row = rows[i] as RawEventRow;
        if (events.length >= request.limit) break;
        const length = Number(row[3]);
        scannedTo = row[0];
        scanned += 1;
        if (request.matcher === undefined || request.matcher.matches(row[1])) {
          events.push(new StoredEvent(row[0], row[1], new Uint8Array(bodies.buffer, bodies.byteOffset + offset, length), Number(row[2])));
        }
        offset += length;
      }
      bytes += size;
      if (take < rows.length || rows.length < want) break;
      chunk *= 4;
    }
    return { events, scannedTo };
  }

  #readRecent(request: ReadRequest, firstSequence: bigint): ReadResult {
    const events: StoredEvent[] = [];
    let index = Number(request.afterSequence - firstSequence + 1n);
    let scannedTo = request.afterSequence;
    const scanEnd = Math.min(this.#recent.length, index + Math.max(request.limit * 16, 4096));
    while (index < scanEnd && events.length < request.limit) {
      const stored = this.#recent[index] as StoredEvent;
      index += 1;
      scannedTo = stored.sequence;
      if (request.matcher === undefined || request.matcher.matches(stored.type)) events.push(stored);
    }
    return { events, scannedTo };
  }

  async query(query: HistoryQuery): Promise<StoredEvent[]> {
    this.#assertOpen();
    const where = ["seq >= ?"];
    const params: unknown[] = [query.fromSequence];
    if (query.source !== undefined) {
      where.push("source = ?");
      params.push(query.source);
    }
    if (query.correlationId !== undefined) {
      where.push("correlation_id = ?");
      params.push(query.correlationId);
    }
    if (query.fromTime !== undefined) {
      where.push("publish_time >= ?");
      params.push(query.fromTime.getTime());
    }
    if (query.toTime !== undefined) {
      where.push("publish_time < ?");
      params.push(query.toTime.getTime());
    }
    for (const tag of query.tags ?? []) {
      where.push("seq IN (SELECT seq FROM event_tags WHERE tag = ?)");
      params.push(tag);
    }
    const exact = query.matcher?.patterns.every((p) => !p.includes("*") && !p.includes(">")) === true;
    if (exact && query.matcher !== undefined) {
      where.push(`type IN (${query.matcher.patterns.map(() => "?").join(", ")})`);
      params.push(...query.matcher.patterns);
    }
    const out: StoredEvent[] = [];
    try {
      const statement = this.#db.prepare(`SELECT seq, type, expire_time, body FROM events WHERE ${where.join(" AND ")} ORDER BY seq`);
      for (const row of statement.iterate(...params) as IterableIterator<EventRow>) {
        const stored = fromRow(row);
        if (matchesHistoryQuery(stored, query)) out.push(stored);
        if (out.length >= query.limit) break;
      }
    } catch (error) {
      throw sqliteError("query", error);
    }
    return out;
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    this.#assertOpen();
    try {
      const row = this.#findById.get(id) as EventRow | undefined;
      return row === undefined ? undefined : fromRow(row);
    } catch (error) {
      throw sqliteError("get", error);
    }
  }

  async headSequence(): Promise<bigint> {
    return this.#head;
  }

  async sequenceAtTime(time: Date): Promise<bigint> {
    this.#assertOpen();
    const row = this.#atTime.get(time.getTime()) as { seq: bigint } | undefined;
    return row === undefined ? this.#head + 1n : row.seq;
  }

  onAppend(listener: AppendListener): () => void {
    return this.#notifier.add(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Appends already accepted by the store are committed, not dropped.
    this.#commit();
    this.groups.close();
    this.#closed = true;
    this.#notifier.clear();
    this.schemas.close();
    this.#db.close();
  }
}

/** Creates (or opens) the SQLite backend in `options.dataDir`. */
export function createSqliteBackend(options: SqliteBackendOptions): StorageBackend {
  return new SqliteBackend(options);
}
