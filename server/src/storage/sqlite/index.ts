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
import { EngineGroupStore, groupStoreOptions, type GroupMemoryOptions } from "../groups/engine-group-store.js";
import type * as backend from "../backend.js";
import { MAX_SEQUENCE } from "../backend.js";
import { EventRowInserter } from "./event-row-inserter.js";
import { StoredEvent, encodeStoredEnvelopes, type PublishedEnvelope } from "../stored-event.js";
import { BacklogReader, type BacklogReadStats } from "./backlog-reader.js";
import { Checkpointer, FALLBACK_CHECKPOINT_PAGES, type CheckpointStats } from "./checkpointer.js";
import { checkpointMetrics } from "./checkpoint-metrics.js";
import { scanLimit } from "./backlog-protocol.js";
import { DataDirLock } from "./data-dir-lock.js";
import { sqliteError } from "./errors.js";
import { damagedStore, integrityProblems, isCorruption, type IntegrityCheck } from "./integrity.js";
import { SqliteGroupPersistence } from "./group-persistence.js";
import { SqliteSchemaStore } from "./schema-store.js";
import { SequenceAtTime } from "./sequence-at-time.js";
import { TypeCounts, type TypeCount } from "./type-counts.js";
import { HAS_TAG, INSERT_TAG, TagRows, tagKey } from "./tag-index.js";
import { HAS_CORRELATION, prepareEventLayout } from "./event-layout.js";
import { RETENTION_INTERVAL_MS, Retention, type RetentionPolicy } from "./retention.js";
import { retentionMetrics } from "./retention-metrics.js";
import { FailureLog } from "../failure-log.js";
import type { Logger } from "../../logger.js";

/** Where each kind of the store's background work that failed is logged (see `failure-log.ts`). */
function failureLogs(logger: Logger | undefined, path: string) {
  return {
    checkpoint: new FailureLog(logger, `sqlite checkpoint of ${path} failed`, "tried again at the next commit (the writer's own checkpoints still bound the WAL)"),
    reader: new FailureLog(logger, `the sqlite backlog reader thread of ${path} failed`, "its reads under way failed with UNAVAILABLE; the next read starts a new thread"),
    retention: new FailureLog(logger, `sqlite retention could not delete events of ${path}`, `nothing was deleted; tried again in ${RETENTION_INTERVAL_MS / 1000} s`),
  };
}

/** Options of {@link createSqliteBackend}. */
export interface SqliteBackendOptions extends GroupMemoryOptions {
  /** Directory of the database file (`events.db`); created when missing. */
  readonly dataDir: string;
  /**
   * `normal` (default): a commit is safe from a crash of the server process;
   * `full`: also from a crash of the machine, at the cost of an fsync per
   * commit.
   */
  readonly synchronous?: "normal" | "full";
  /**
   * How many of the newest events to keep in memory for live readers
   * (default {@link DEFAULT_RECENT_CACHE_SIZE}); they also hold at most
   * {@link RECENT_CACHE_BYTES} of encoded envelopes. Readers further behind
   * read from the database.
   */
  readonly recentCacheSize?: number;
  /** Clock used for publish times; tests may pin it. */
  readonly now?: () => Date;
  /**
   * How the file is checked before it is served (default `quick`): a
   * damaged file is refused with FAILED_PRECONDITION naming the way out
   * (see `integrity.ts`).
   */
  readonly integrityCheck?: IntegrityCheck;
  /**
   * Time one group commit may spend taking further appends, in ms (default
   * {@link COMMIT_BUDGET_MS}): once it is spent, the appends not yet
   * written wait for the next turn of the event loop. `0` commits each
   * append on its own; tests set it to pin commit boundaries.
   */
  readonly commitBudgetMs?: number;
  /**
   * When the oldest events are deleted (see `retention.ts`): older than
   * `maxAgeMs`, or while the file's pages in use exceed `maxBytes`. Both 0
   * (the default): events are kept forever.
   */
  readonly retention?: RetentionPolicy;
  /** Where failures of the store's background work are told (see `failure-log.ts`); none by default. */
  readonly logger?: Logger;
}

/**
 * Default number of events in the recent cache. Enough for readers that
 * keep up (a group commit holds a few hundred events) and for a moderate
 * lag, and small on purpose: each cached envelope is its own native buffer,
 * freed only when the garbage collector frees its wrapper. Entries that
 * leave the cache within a young-generation collection or two die young and
 * are freed at once; with 16,384 entries (kept up to twice that between
 * trims) they outlived the young generation, so every published event's
 * buffer became old-generation garbage, freed only by full collections that
 * external memory triggers some 64 MB later. The allocator kept the high
 * water mark resident: 1M events of 100 per request left the server at
 * ~250 MB RSS, ~110 MB of it free malloc memory; with 2,048 entries
 * trimmed at a quarter over, ~133 MB.
 */
export const DEFAULT_RECENT_CACHE_SIZE = 2048;

/**
 * How long an event stays in the recent cache, in ms (between this and
 * twice this): the cache is for readers that keep up, which read an event
 * within milliseconds of its commit. A cache bounded by count alone held
 * about a second of events at 2,000 events/s: every cached event outlived
 * two young-generation collections and was promoted, so each collection
 * copied hundreds of kilobytes (5 ms pauses) and full collections came
 * every two seconds. Events this old are read from the database instead
 * (on the backlog reader's thread).
 */
export const RECENT_CACHE_AGE_MS = 50;

/**
 * Most events one group commit writes. Appends arriving in one turn share a
 * transaction; beyond this many events the rest wait for the next turn, so
 * that a burst of large batches (20 requests of 10,000 events arriving at
 * once were one 200,000-row transaction, 2.6 s without serving anyone)
 * does not hold the server's thread for all of them.
 */
export const MAX_EVENTS_PER_COMMIT = 4_096;

/**
 * Time one group commit spends taking further appends, in ms. What an
 * event costs to write varies fiftyfold with what it holds: an event whose
 * 64 tags and long correlation id are random keys goes into index pages
 * all over files larger than the page cache (~0.7 ms of server CPU each in
 * the bench's `index-keys-flood`, 2 ms before the indexes held bounded
 * keys, against ~10–15 µs for events with time-ordered ids), so a bound
 * by count alone let 4,096 such events hold the server's thread for
 * seconds. Appends already waiting when the budget is spent commit on the
 * next turn, after other calls are served; an append is still never split,
 * so one request costs what it costs.
 */
export const COMMIT_BUDGET_MS = 20;

/** Size the WAL file is truncated to after a commit larger than that, in bytes. */
export const WAL_SIZE_LIMIT = 64 * 2 ** 20;

/** Upper bound of the encoded envelopes the recent cache holds, whatever their count (large events). */
export const RECENT_CACHE_BYTES = 4 * 2 ** 20;

interface EventRow {
  seq: bigint;
  type: string;
  expire_time: bigint;
  body: Buffer;
}

/** An append waiting for its group commit. */
interface PendingAppend {
  readonly events: readonly Event[];
  readonly options: backend.AppendOptions;
  resolve(results: backend.AppendResult[]): void;
  reject(error: unknown): void;
}

/** What one append stored, in its transaction. */
interface AppendOutcome {
  readonly results: backend.AppendResult[];
  readonly added: StoredEvent[];
}

function fromRow(row: EventRow): StoredEvent {
  return new StoredEvent(row.seq, row.type, row.body, Number(row.expire_time));
}

/** The SQLite backend, with what it tells about its backlog reads. */
export interface SqliteStorageBackend extends backend.StorageBackend {
  /**
   * How many reads behind the recent cache the backlog reader thread
   * answered, and that thread's id (never the main thread's): these reads
   * do not run on the server's thread.
   */
  backlogReadStats(): BacklogReadStats;
  /** What the checkpointer thread did: checkpoints of the WAL that did not run on the server's thread. */
  checkpointStats(): CheckpointStats;
}

class SqliteBackend implements SqliteStorageBackend {
  readonly info: backend.BackendInfo;
  readonly groups: GroupStore & { close(): void };
  readonly schemas: SqliteSchemaStore;
  readonly #db: Database.Database;
  readonly #lock: DataDirLock;
  /** Reads behind the recent cache, answered by a thread of their own. */
  readonly #backlog: BacklogReader;
  /** Checkpoints of the WAL, on a thread of their own. */
  readonly #checkpointer: Checkpointer;
  /** Deletes the oldest events, when a retention bound is set. */
  readonly #retention: Retention;
  readonly #notifier = new Listeners<[headSequence: bigint]>();
  readonly #now: () => Date;
  readonly #recent: StoredEvent[] = [];
  /** When each entry of `#recent` was committed (`performance.now()`). */
  readonly #recentAt: number[] = [];
  readonly #recentCapacity: number;
  /** Bytes of the envelopes in `#recent`. */
  #recentBytes = 0;
  #head: bigint;
  #lastPublishMs: number;
  #closed = false;
  /** The type patterns of the query running now, for the `protobus_type_matches` SQL function. */
  #queryMatcher: PatternMatcher | undefined;

  readonly #insertEvents: EventRowInserter;
  readonly #insertTag: Database.Statement;
  readonly #tagRows = new TagRows();
  readonly #findById: Database.Statement;
  readonly #atTime: SequenceAtTime;
  readonly #bySequence: Database.Statement;
  readonly #typeCounts: TypeCounts;
  readonly #appendTx: (appends: readonly PendingAppend[], now: Date) => AppendOutcome[];
  /** Appends waiting for the next group commit. */
  #pending: PendingAppend[] = [];
  #commitScheduled = false;

  constructor(options: SqliteBackendOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    const path = join(options.dataDir, "events.db");
    this.info = { kind: "sqlite", durable: true, location: path };
    this.#now = options.now ?? (() => new Date());
    this.#recentCapacity = options.recentCacheSize ?? DEFAULT_RECENT_CACHE_SIZE;
    // One server owns a data directory: take its lock first, so a second
    // server on the same directory fails at start, not mid-write.
    this.#lock = DataDirLock.take(options.dataDir);
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      db.defaultSafeIntegers(true);
      // Before anything reads or writes it: a damaged file is not served.
      const problems = integrityProblems(db, options.integrityCheck ?? "quick");
      if (problems.length > 0) throw damagedStore(path, options.dataDir, problems);
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      // The WAL is checkpointed by the checkpointer thread about every 100 ms
      // of writes and then reused from its start, so it stays small; but one large commit
      // grows it to the commit's size and SQLite keeps the file at that size.
      // This truncates it back at the next restart of the log. (Memory: the
      // WAL index is the shared `-shm` file, ~8 bytes per page of WAL, shared
      // with the backlog reader's connection; the page cache keeps SQLite's
      // default of 2 MiB; mmap stays off.) The database is in normal locking
      // mode so that the backlog reader can read it; the data directory's
      // lock is `#lock`. This connection is the only writer.
      db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
      // Checkpoints run on the checkpointer's thread (see checkpointer.ts);
      // this connection checkpoints only if that thread falls far behind.
      db.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
      db.pragma("busy_timeout = 0");
      prepareEventLayout(db, path);
      db.function("protobus_type_matches", { deterministic: false }, (type: unknown) => (this.#queryMatcher?.matches(type as string) === true ? 1 : 0));
      this.#db = db;
    } catch (error) {
      db?.close();
      this.#lock.release();
      if (isCorruption(error)) throw damagedStore(path, options.dataDir, [(error as Error).message], error);
      throw sqliteError("open", error);
    }
    // Publish times never decrease along sequences (see `#lastPublishMs`),
    // so the newest row holds the latest: one index lookup, where
    // max(publish_time) read every row (0.4 s a million events here).
    const newest = this.#db.prepare("SELECT seq, publish_time FROM events ORDER BY seq DESC LIMIT 1").get() as
      | { seq: bigint; publish_time: bigint }
      | undefined;
    this.#head = newest?.seq ?? 0n;
    this.schemas = new SqliteSchemaStore(this.#db, this.#now);
    this.#lastPublishMs = Number(newest?.publish_time ?? 0n);

    this.#insertEvents = new EventRowInserter(this.#db);
    this.#insertTag = this.#db.prepare(INSERT_TAG);
    this.#findById = this.#db.prepare("SELECT seq, type, expire_time, body FROM events WHERE id = ? ORDER BY seq DESC LIMIT 1");
    this.#atTime = new SequenceAtTime(this.#db);
    this.#bySequence = this.#db.prepare("SELECT seq, type, expire_time, body FROM events WHERE seq = ?");
    const typesAfter = this.#db.prepare("SELECT type, count(*) AS n FROM events WHERE seq > ? GROUP BY type");
    this.#typeCounts = new TypeCounts((afterSequence) => typesAfter.all(afterSequence) as TypeCount[]);
    // One transaction for every append that arrived since the last commit.
    // The first append always, further ones while the commit budget lasts:
    // the outcomes are those of a prefix of `appends`.
    const budgetMs = options.commitBudgetMs ?? COMMIT_BUDGET_MS;
    this.#appendTx = this.#db.transaction((appends: readonly PendingAppend[], now: Date) => {
      const deadline = performance.now() + budgetMs;
      let sequence = this.#head;
      const outcomes: AppendOutcome[] = [];
      for (const append of appends) {
        if (outcomes.length > 0 && performance.now() >= deadline) break;
        const outcome = this.#insertRows(append.events, append.options, now, sequence);
        sequence = outcome.added.at(-1)?.sequence ?? sequence;
        outcomes.push(outcome);
      }
      // As many of the events retention deletes as were written, in this transaction.
      this.#retention.keepPace(Number(sequence - this.#head));
      return outcomes;
    });
    const synchronous = options.synchronous === "full" ? "FULL" : "NORMAL";
    const failures = failureLogs(options.logger, path);
    this.#checkpointer = new Checkpointer({ path, synchronous }, () => this.#scheduleCommit(), (message) => failures.checkpoint.report(message));
    let persistence: SqliteGroupPersistence;
    try {
      persistence = new SqliteGroupPersistence(this.#db, () => this.#checkpointer.nudge());
    } catch (error) {
      this.#db.close();
      this.#lock.release();
      throw sqliteError("open groups", error);
    }
    this.#backlog = new BacklogReader(path, (error) => failures.reader.report(error));
    this.#retention = this.#startRetention(options.retention ?? { maxAgeMs: 0, maxBytes: 0 }, failures.retention);
    this.groups = new EngineGroupStore(
      {
        read: (request) => this.read(request),
        readSequences: async (sequences) => this.#readSequences(sequences),
        headSequence: () => this.headSequence(),
        countAfter: async (afterSequence, matcher) => this.#countAfter(afterSequence, matcher),
        onAppend: (listener) => this.onAppend(listener),
      },
      persistence,
      groupStoreOptions(options),
    );
  }

  /** Deletes the oldest events as `policy` says, between commits (see `retention.ts`). */
  #startRetention(policy: RetentionPolicy, failures: FailureLog): Retention {
    const retention = new Retention(this.#db, policy, this.#atTime, {
      head: () => this.#head,
      now: () => this.#now().getTime(),
      canWrite: () => !this.#closed && !this.#checkpointer.holdsCommits,
      afterDelete: () => {
        // Counts of events after a sequence changed without the head moving.
        this.#typeCounts.forget();
        this.#checkpointer.nudge();
      },
      failed: (error) => failures.report(error),
    });
    retention.start();
    return retention;
  }

  /** Inserts one append's events after `head`, inside the open transaction. */
  #insertRows(events: readonly Event[], options: backend.AppendOptions, now: Date, head: bigint): AppendOutcome {
    const results: backend.AppendResult[] = [];
    const accepted: Event[] = [];
    const published: (PublishedEnvelope | undefined)[] = [];
    const batchIds = new Map<string, bigint>();
    let sequence = head;
    // Rows a failed transaction queued are not this append's.
    this.#insertEvents.clear();
    this.#tagRows.clear();
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
      accepted.push({ ...input, sequence, publishTime: now });
      published.push(options.published?.[i]);
      if (!assigned) batchIds.set(input.id, sequence);
      results.push({ id: input.id, sequence, duplicate: false });
    }
    // Only the encoded envelopes are kept (in the recent cache for live
    // readers): the decoded input would hold its objects and a slice of
    // the whole request buffer per event, ~100 MB over the cache.
    const envelopes = encodeStoredEnvelopes(accepted, options.published !== undefined ? published : undefined);
    const added = accepted.map((event, i) => {
      const stored = new StoredEvent(event.sequence, event.type, envelopes[i] as Uint8Array, event.expireTime?.getTime() ?? 0, undefined, event);
      this.#insertEvents.add(event.sequence, event.id, event.type, event.source, event.correlationId, now.getTime(), stored.expireAtMs, stored.bytes);
      this.#tagRows.add(event.tags, event.sequence);
      return stored;
    });
    // Written before the next append of the transaction looks up duplicates.
    this.#insertEvents.flush();
    this.#tagRows.flush(this.#insertTag);
    return { results, added };
  }

  #findDuplicate(id: string, batchIds: Map<string, bigint>, windowMs: number, nowMs: number): bigint | undefined {
    if (windowMs <= 0) return undefined;
    const inBatch = batchIds.get(id);
    if (inBatch !== undefined) return inBatch;
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
      for (const row of this.#typeCounts.after(afterSequence, this.#head)) {
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
  append(events: readonly Event[], options: backend.AppendOptions): Promise<backend.AppendResult[]> {
    this.#assertOpen();
    return new Promise((resolve, reject) => {
      this.#pending.push({ events, options, resolve, reject });
      this.#scheduleCommit();
    });
  }

  /** Commits the pending appends on the next turn of the event loop, unless the checkpointer holds commits (it calls this again when it lets go). */
  #scheduleCommit(): void {
    if (this.#commitScheduled || this.#pending.length === 0) return;
    this.#commitScheduled = true;
    setImmediate(() => {
      this.#commitScheduled = false;
      if (!this.#checkpointer.holdsCommits) this.#commit();
    });
  }

  #commit(): void {
    const appends = this.#takePending();
    if (appends.length === 0) return;
    // What did not fit goes in the next turn: other calls are served in between.
    if (this.#pending.length > 0) this.#scheduleCommit();
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
      this.#retention.committed();
    } catch (error) {
      if (appends.length === 1) {
        (appends[0] as PendingAppend).reject(sqliteError("append", error));
        return;
      }
      // The group failed as a whole: commit each on its own, so that only
      // the append at fault fails.
      for (const append of appends) {
        try {
          const outcome = this.#appendTx([append], now);
          this.#retention.committed();
          this.#settle([append], outcome);
        } catch (single) {
          append.reject(sqliteError("append", single));
        }
      }
      return;
    }
    if (outcomes.length < appends.length) {
      // The budget ran out: the rest go first in the next commit.
      this.#pending.unshift(...appends.slice(outcomes.length));
      this.#scheduleCommit();
    }
    this.#settle(appends.slice(0, outcomes.length), outcomes);
  }

  /**
   * The pending appends of the next commit: in arrival order, as many as
   * hold at most {@link MAX_EVENTS_PER_COMMIT} events together, and at least
   * one (an append is never split: its events commit together or not at all).
   * The commit may take fewer of them, when its time budget runs out
   * ({@link COMMIT_BUDGET_MS}).
   */
  #takePending(): PendingAppend[] {
    let events = 0;
    let count = 0;
    for (const append of this.#pending) {
      if (count > 0 && events + append.events.length > MAX_EVENTS_PER_COMMIT) break;
      events += append.events.length;
      count += 1;
    }
    return this.#pending.splice(0, count);
  }

  /** After a commit: moves the head, feeds the recent cache and live readers, answers the appends. */
  #settle(appends: readonly PendingAppend[], outcomes: readonly AppendOutcome[]): void {
    const head = this.#head;
    const at = performance.now();
    for (const outcome of outcomes) {
      const last = outcome.added.at(-1);
      if (last === undefined) continue;
      this.#head = last.sequence;
      for (const stored of outcome.added) {
        this.#recent.push(stored);
        this.#recentAt.push(at);
        this.#recentBytes += stored.bytes.byteLength;
      }
    }
    this.#trimRecent(at);
    this.#checkpointer.nudge();
    if (this.#head !== head) this.#notifier.notify(this.#head);
    appends.forEach((append, i) => append.resolve((outcomes[i] as AppendOutcome).results));
  }

  /**
   * Drops the oldest cached events once the cache holds a quarter more than
   * its bounds (count or bytes), down to the bounds, and those older than
   * {@link RECENT_CACHE_AGE_MS} once the oldest is twice that old: one
   * splice per many appends, and entries outlive the bounds by little (how
   * long they live decides whether they die young; see
   * DEFAULT_RECENT_CACHE_SIZE and RECENT_CACHE_AGE_MS).
   */
  #trimRecent(now: number): void {
    const oldest = this.#recentAt[0] ?? now;
    const length = this.#recent.length;
    if (length <= this.#recentCapacity * 1.25 && this.#recentBytes <= RECENT_CACHE_BYTES * 1.25 && oldest >= now - 2 * RECENT_CACHE_AGE_MS) return;
    let drop = Math.max(0, length - this.#recentCapacity);
    while (drop < length && (this.#recentAt[drop] as number) < now - RECENT_CACHE_AGE_MS) drop += 1;
    let bytes = this.#recentBytes;
    for (let i = 0; i < drop; i++) bytes -= (this.#recent[i] as StoredEvent).bytes.byteLength;
    while (bytes > RECENT_CACHE_BYTES && drop < length - 1) {
      bytes -= (this.#recent[drop] as StoredEvent).bytes.byteLength;
      drop += 1;
    }
    this.#recent.splice(0, drop);
    this.#recentAt.splice(0, drop);
    this.#recentBytes = bytes;
  }

  async read(request: backend.ReadRequest): Promise<backend.ReadResult> {
    this.#assertOpen();
    // Nothing after the head: no need to ask the database (a reopened store has an empty cache).
    if (request.afterSequence >= this.#head) return { events: [], scannedTo: request.afterSequence };
    const first = this.#recent[0];
    if (first !== undefined && request.afterSequence >= first.sequence - 1n) {
      return this.#readRecent(request, first.sequence);
    }
    // Behind the cache: the backlog reader thread reads the database, so
    // that the server's thread does not. Every event up to `#head` is
    // committed, so its read sees them all.
    return this.#backlog.read(request.afterSequence, request.limit, request.matcher);
  }

  #readRecent(request: backend.ReadRequest, firstSequence: bigint): backend.ReadResult {
    const events: StoredEvent[] = [];
    let index = Number(request.afterSequence - firstSequence + 1n);
    let scannedTo = request.afterSequence;
    const scanEnd = Math.min(this.#recent.length, index + scanLimit(request.limit));
    while (index < scanEnd && events.length < request.limit) {
      const stored = this.#recent[index] as StoredEvent;
      index += 1;
      scannedTo = stored.sequence;
      if (request.matcher === undefined || request.matcher.matches(stored.type)) events.push(stored);
    }
    return { events, scannedTo };
  }

  async query(query: backend.HistoryQuery): Promise<backend.HistoryPage> {
    this.#assertOpen();
    // Publish times follow the sequence: a time bound is a sequence bound (sequence-at-time.ts).
    let fromSequence = query.fromSequence;
    if (query.fromTime !== undefined) {
      const atTime = await this.sequenceAtTime(query.fromTime);
      if (atTime > fromSequence) fromSequence = atTime;
    }
    const where = ["seq >= ?"];
    const params: unknown[] = [fromSequence];
    // The sequences are dense: a range of scanLimit sequences bounds what
    // SQLite looks at, whichever index it takes (or none, for a source).
    // Capped at the largest sequence SQLite can bind (a signed 64-bit integer).
    const scanEnd = query.scanLimit === undefined ? undefined : min(fromSequence + BigInt(query.scanLimit), MAX_SEQUENCE);
    if (scanEnd !== undefined) {
      where.push("seq < ?");
      params.push(scanEnd);
    }
    if (query.source !== undefined) {
      where.push("source = ?");
      params.push(query.source);
    }
    if (query.correlationId !== undefined) {
      where.push(HAS_CORRELATION);
      params.push(query.correlationId, query.correlationId);
    }
    if (query.fromTime !== undefined) {
      where.push("publish_time >= ?");
      params.push(query.fromTime.getTime());
    }
    // Nothing at or after `until` matches, now or later.
    const until = query.toTime !== undefined ? await this.sequenceAtTime(query.toTime) : undefined;
    if (query.toTime !== undefined) {
      where.push("publish_time < ?", "seq < ?");
      params.push(query.toTime.getTime(), until);
    }
    for (const tag of query.tags ?? []) {
      where.push(HAS_TAG);
      params.push(tagKey(tag), fromSequence, scanEnd ?? MAX_SEQUENCE);
    }
    const exact = query.matcher?.patterns.every((p) => !p.includes("*") && !p.includes(">")) === true;
    if (exact && query.matcher !== undefined) {
      where.push(`type IN (${query.matcher.patterns.map(() => "?").join(", ")})`);
      params.push(...query.matcher.patterns);
    } else if (query.matcher !== undefined) {
      // Wildcards are matched inside the scan, so that SQLite reads the body of a matching row only.
      where.push("protobus_type_matches(type)");
    }
    // Every criterion is in the SQL: no row is decoded to be filtered.
    const out: StoredEvent[] = [];
    this.#queryMatcher = query.matcher;
    try {
      const statement = this.#db.prepare(`SELECT seq, type, expire_time, body FROM events WHERE ${where.join(" AND ")} ORDER BY seq`);
      for (const row of statement.iterate(...params) as IterableIterator<EventRow>) {
        const stored = fromRow(row);
        out.push(stored);
        if (out.length >= query.limit) {
          return { events: out, scannedTo: stored.sequence, complete: true };
        }
      }
    } catch (error) {
      throw sqliteError("query", error);
    } finally {
      this.#queryMatcher = undefined;
    }
    if (scanEnd === undefined || scanEnd > this.#head || (until !== undefined && until <= scanEnd)) {
      return { events: out, scannedTo: this.#head > fromSequence - 1n ? this.#head : fromSequence - 1n, complete: true };
    }
    return { events: out, scannedTo: scanEnd - 1n, complete: false };
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
    try {
      return this.#atTime.find(time.getTime(), this.#head);
    } catch (error) {
      throw sqliteError("read", error);
    }
  }

  onAppend(listener: backend.AppendListener): () => void {
    return this.#notifier.add(listener);
  }

  readonly metrics = [...checkpointMetrics(() => this.#checkpointer.stats()), ...retentionMetrics(() => this.#retention.stats())];

  backlogReadStats(): BacklogReadStats {
    return this.#backlog.stats();
  }

  checkpointStats(): CheckpointStats {
    return this.#checkpointer.stats();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Appends already accepted by the store are committed, not dropped.
    while (this.#pending.length > 0) this.#commit();
    this.#retention.close();
    this.groups.close();
    this.#closed = true;
    this.#notifier.clear();
    // The other threads' connections close first: the writer's, closing last,
    // checkpoints the WAL and removes it.
    await this.#backlog.close();
    await this.#checkpointer.close();
    this.schemas.close();
    this.#db.close();
    this.#lock.release();
  }
}

/** Creates (or opens) the SQLite backend in `options.dataDir`. */
export function createSqliteBackend(options: SqliteBackendOptions): SqliteStorageBackend {
  return new SqliteBackend(options);
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
