/**
 * Retention of the sqlite store: the oldest events are deleted once they
 * are older than `maxAgeMs`, or while the file's pages in use exceed
 * `maxBytes` (either bound, or both; 0 turns one off, and with both off
 * nothing is deleted, as before).
 *
 * Deleting runs on the server's thread between commits, a few hundred
 * events a transaction and one transaction a turn of the event loop, so
 * that publishes and reads are served in between: a pass that finds a
 * million events to drop costs each other caller one batch at most, never
 * the whole pass. The newest event is always kept, so that sequences go on
 * from it after a restart; events deleted leave a gap below the oldest
 * kept, which readers already step over (a subscription from `earliest`
 * starts at the oldest kept event; a consumer group behind it goes on
 * there), as with the JetStream store's `max_age`. What consumer groups
 * hold of the deleted events (acks, retry records, dead letters) is
 * deleted with them. Deduplication of a client's id reaches back only as
 * far as its event is kept.
 *
 * The file does not shrink: SQLite keeps the pages it frees and reuses
 * them for new events, so under a byte bound the file stays near it (plus
 * the WAL, bounded on its own). A byte bound counts every page in use,
 * consumer groups and schemas included; once it is passed, the oldest
 * events are deleted until the pages in use hold 90% of it, measured
 * again after each transaction.
 */
import type Database from "better-sqlite3";
import type { SequenceAtTime } from "./sequence-at-time.js";
import { DELETE_TAG, TagRows, envelopeTags } from "./tag-index.js";

/** When events are deleted; 0 turns a bound off. */
export interface RetentionPolicy {
  /** Events published longer ago than this, in ms, are deleted. */
  readonly maxAgeMs: number;
  /** Oldest events are deleted while the file's pages in use hold more bytes than this. */
  readonly maxBytes: number;
}

/**
 * Time one delete transaction should take, in ms: the number of events it
 * takes is doubled or halved after each, to stay near this. Deleting an
 * event costs about what writing it did (~10–15 µs here for an event with
 * two tags: the row, its index entries, its tag rows), so a batch is a few
 * hundred events, and a call that arrives meanwhile waits ~2 ms at most.
 */
export const RETENTION_BATCH_MS = 2;

/** Bounds of the sequences one delete transaction covers. */
const MIN_BATCH = 16;
const MAX_BATCH = 8192;

/** Time between two passes, in ms (a pass runs batches until nothing more is due). */
export const RETENTION_INTERVAL_MS = 1000;

/** Share of a byte bound a pass deletes down to, so that it does not run again at once. */
const BYTES_LOW_WATER = 0.9;

/** What retention did, for `/metrics`. */
export interface RetentionStats {
  /** Events deleted since the store opened. */
  readonly deleted: number;
  /** Bytes of the file's pages in use now: what `maxBytes` bounds (0 once closed). */
  readonly usedBytes: number;
  /** The oldest sequence stored now (0 with no bound set, once closed, or when the store is empty). */
  readonly oldestSequence: number;
  /** Delete transactions that failed (retried by the next pass). */
  readonly failures: number;
}

/** How retention reaches the store it deletes from. */
export interface RetentionHost {
  /** The newest sequence. */
  readonly head: () => bigint;
  /** The clock of publish times. */
  readonly now: () => number;
  /** False while the store may not write (a checkpoint holds commits); the batch waits for the next turn. */
  readonly canWrite: () => boolean;
  /** Told after every delete transaction (the store nudges its checkpointer). */
  readonly afterDelete: () => void;
  /** Told of a delete transaction that failed (rolled back; the next pass tries again). */
  readonly failed?: (error: unknown) => void;
}

/** See the file comment. */
export class Retention {
  readonly #policy: RetentionPolicy;
  readonly #host: RetentionHost;
  readonly #atTime: SequenceAtTime;
  readonly #rows: Database.Statement;
  readonly #deleteEvents: Database.Statement;
  readonly #deleteTag: Database.Statement;
  readonly #groupNames: Database.Statement;
  /** Deletes a group's rows (settled sequences, retry records, dead letters) of a range of sequences. */
  readonly #deleteGroupRows: readonly Database.Statement[];
  readonly #pageCount: Database.Statement;
  readonly #freePages: Database.Statement;
  readonly #pageSize: number;
  readonly #deleteTx: (from: bigint, to: bigint) => number;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  /** The sequence below which events are older than the maximum age, as of the running pass (0 when none are). */
  #ageCut = 0n;
  /** True while the running pass deletes for the byte bound: until the pages in use come under its low water. */
  #overBytes = false;
  /** Sequences the next delete transaction covers (see {@link RETENTION_BATCH_MS}). */
  #batchSize = 64;
  #deleted = 0;
  #failures = 0;
  /** Events the last {@link keepPace} deleted, counted once its transaction commits. */
  #paced = 0;
  /** The tag rows of the events one delete transaction removes. */
  readonly #tagRows = new TagRows();
  #closed = false;

  constructor(db: Database.Database, policy: RetentionPolicy, atTime: SequenceAtTime, host: RetentionHost) {
    this.#policy = policy;
    this.#host = host;
    this.#atTime = atTime;
    this.#rows = db.prepare("SELECT seq, body FROM events WHERE seq >= ? AND seq < ? ORDER BY seq").safeIntegers(true);
    this.#deleteEvents = db.prepare("DELETE FROM events WHERE seq >= ? AND seq < ?");
    this.#deleteTag = db.prepare(DELETE_TAG);
    // The group tables are keyed by group, then sequence: a range is deleted group by group.
    this.#groupNames = db.prepare("SELECT name FROM groups").pluck();
    this.#deleteGroupRows = ["group_settled", "group_retries", "group_dead"].map((table) => db.prepare(`DELETE FROM ${table} WHERE grp = ? AND seq >= ? AND seq < ?`));
    this.#pageCount = db.prepare("PRAGMA page_count").pluck().safeIntegers(false);
    this.#freePages = db.prepare("PRAGMA freelist_count").pluck().safeIntegers(false);
    this.#pageSize = Number(db.pragma("page_size", { simple: true }));
    // An event's tag rows are found from the tags in its envelope: the tag
    // table is keyed by tag, and a scan of it by sequence would read all of it.
    this.#deleteTx = db.transaction((from: bigint, to: bigint) => {
      const rows = this.#rows.all(from, to) as Array<{ seq: bigint; body: Buffer }>;
      // Rows a failed transaction queued are not this one's.
      this.#tagRows.clear();
      for (const row of rows) this.#tagRows.add(envelopeTags(row.body), row.seq);
      this.#tagRows.flush(this.#deleteTag);
      this.#deleteEvents.run(from, to);
      // What the consumer groups hold of those events goes with them, so
      // that a group's count of dead letters is what it can list.
      for (const name of this.#groupNames.all() as string[]) for (const statement of this.#deleteGroupRows) statement.run(name, from, to);
      return rows.length;
    });
  }

  /** True when a bound is set: without one, {@link start} does nothing. */
  get enabled(): boolean {
    return this.#policy.maxAgeMs > 0 || this.#policy.maxBytes > 0;
  }

  /** Runs a pass on the next turn of the event loop and then every {@link RETENTION_INTERVAL_MS}. */
  start(): void {
    if (!this.enabled || this.#closed) return;
    this.#immediate = setImmediate(() => this.#pass());
  }

  /**
   * Called inside an append's transaction with the number of events it
   * wrote: deletes as many of the events due, in the same transaction, so
   * that a store held at its bound keeps pace with writers that keep the
   * server's thread busy (the batches between commits alone fell behind a
   * writer at full speed by half). A failure here rolls back only the
   * deletes, never the append.
   */
  keepPace(written: number): void {
    this.#paced = 0;
    if (this.#closed || written <= 0 || (this.#ageCut === 0n && !this.#overBytes)) return;
    try {
      const range = this.#dueRange(written);
      if (range !== undefined) this.#paced = this.#deleteTx(range[0], range[1]);
    } catch (error) {
      this.#failures += 1;
      this.#host.failed?.(error);
    }
  }

  /** The append transaction of the last {@link keepPace} committed: its deletes count. */
  committed(): void {
    this.#deleted += this.#paced;
    this.#paced = 0;
  }

  /** Stops: a batch under way has committed; no further one starts. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
  }

  /** See {@link RetentionStats}. */
  stats(): RetentionStats {
    const open = !this.#closed;
    return {
      deleted: this.#deleted,
      usedBytes: open ? this.#usedBytes() : 0,
      oldestSequence: open && this.enabled ? Number(this.#atTime.lowest() ?? 0n) : 0,
      failures: this.#failures,
    };
  }

  /** Decides what this pass deletes and runs its first batch. */
  #pass(): void {
    this.#timer = undefined;
    this.#immediate = undefined;
    if (this.#closed) return;
    try {
      this.#ageCut = this.#policy.maxAgeMs > 0 ? this.#atTime.find(this.#host.now() - this.#policy.maxAgeMs, this.#host.head()) : 0n;
      this.#overBytes = this.#policy.maxBytes > 0 && this.#usedBytes() > this.#policy.maxBytes;
    } catch (error) {
      this.#failed(error);
      return;
    }
    this.#batch();
  }

  /** One delete transaction, then the next on the next turn, until the pass is done. */
  #batch(): void {
    this.#immediate = undefined;
    this.#timer = undefined;
    if (this.#closed) return;
    if (!this.#host.canWrite()) {
      // A checkpoint holds commits for a few ms: look again after one.
      this.#timer = setTimeout(() => this.#batch(), 1);
      this.#timer.unref();
      return;
    }
    const started = performance.now();
    try {
      const range = this.#dueRange(this.#batchSize);
      if (range === undefined) {
        this.#wait();
        return;
      }
      this.#deleted += this.#deleteTx(range[0], range[1]);
    } catch (error) {
      // Nothing of the batch was deleted; the next pass tries again.
      this.#failed(error);
      return;
    }
    const took = performance.now() - started;
    if (took < RETENTION_BATCH_MS / 2 && this.#batchSize < MAX_BATCH) this.#batchSize *= 2;
    else if (took > RETENTION_BATCH_MS * 2 && this.#batchSize > MIN_BATCH) this.#batchSize /= 2;
    this.#host.afterDelete();
    this.#immediate = setImmediate(() => this.#batch());
  }

  #failed(error: unknown): void {
    this.#failures += 1;
    this.#host.failed?.(error);
    this.#wait();
  }

  /** Ends the pass: the next one starts after the interval. */
  #wait(): void {
    this.#timer = setTimeout(() => this.#pass(), RETENTION_INTERVAL_MS);
    this.#timer.unref();
  }

  /**
   * The sequence below which events are due now: those older than the
   * maximum age, and while the pages in use stay above the byte bound's low
   * water, every event but the newest, which is always kept.
   */
  #dueBelow(): bigint {
    const head = this.#host.head();
    let limit = this.#ageCut;
    if (this.#overBytes) {
      if (this.#usedBytes() > this.#policy.maxBytes * BYTES_LOW_WATER) limit = head;
      else this.#overBytes = false;
    }
    return limit > head ? head : limit;
  }

  /** Bytes of the file's pages in use (its free pages are reused before it grows). */
  #usedBytes(): number {
    return ((this.#pageCount.get() as number) - (this.#freePages.get() as number)) * this.#pageSize;
  }

  /** The oldest `count` sequences, or fewer, of those due now, as [from, to); undefined when none is due. */
  #dueRange(count: number): [bigint, bigint] | undefined {
    const lowest = this.#atTime.lowest();
    const limit = this.#dueBelow();
    if (lowest === undefined || lowest >= limit) return undefined;
    const to = lowest + BigInt(count);
    return [lowest, to < limit ? to : limit];
  }
}

