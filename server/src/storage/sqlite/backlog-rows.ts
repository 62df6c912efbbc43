/**
 * The backlog reader thread's view of the events table: a read-only
 * connection and a few windows of rows read ahead of the readers paging
 * through the backlog (see `backlog-window.ts`), from which reads are
 * answered and packed for transfer to the main thread.
 */
import Database from "better-sqlite3";
import { compilePatterns, type PatternMatcher } from "@protobus/sdk/internal";
import { scanGrouping, type GroupingScan } from "../envelope-grouping.js";
import { MAX_READ_BYTES, UNKNOWN_PRIORITY, bodiesOffset, packedSize, packedViews, scanLimit } from "./backlog-protocol.js";
import { BacklogWindow, type RawEventRow } from "./backlog-window.js";

/** One read's outcome, packed. */
export interface PackedRead {
  readonly scannedTo: bigint;
  readonly buffer: ArrayBuffer;
  readonly count: number;
  readonly types: string[];
  readonly keys: string[];
}

/** Rows one database read fetches at most. */
const FETCH_ROWS = 1024;

/**
 * Rows kept ahead of a reader: one fetch, as much as a consumer group reads
 * at once (readers of sparse patterns read on from the database).
 */
const AHEAD_ROWS = FETCH_ROWS;

/**
 * Bytes of bodies kept ahead of a reader: enough for a read of 1,024
 * events of 1 KiB, and bounded for large events, since each window holds
 * them in the thread's memory.
 */
const AHEAD_BYTES = 1024 * 1024;

/**
 * Readers followed at once (a consumer group's read-ahead, a few lagging
 * subscriptions); one more reader takes the window used least recently.
 */
const MAX_WINDOWS = 4;

/** Matchers kept compiled, by their patterns; readers reuse a handful. */
const MAX_MATCHERS = 64;

/** See the file comment. */
export class BacklogRows {
  readonly #db: Database.Database;
  readonly #readAfter: Database.Statement;
  readonly #readBodiesAfter: Database.Statement;
  readonly #fetchTx: (window: BacklogWindow, limit: number, budget: number) => number;
  readonly #matchers = new Map<string, PatternMatcher>();
  readonly #windows: BacklogWindow[] = [];
  /** The window of the last read, the one to read ahead in. */
  #last: BacklogWindow | undefined;
  #reads = 0;

  constructor(path: string) {
    this.#db = new Database(path, { readonly: true, fileMustExist: true });
    // Numbers, not bigints: see backlog-window.ts.
    this.#db.defaultSafeIntegers(false);
    // A reader waits out a writer's brief WAL-index lock instead of failing;
    // it waits in this thread, never in the main one.
    this.#db.pragma("busy_timeout = 5000");
    this.#readAfter = this.#db.prepare("SELECT seq, type, expire_time, length(body) FROM events WHERE seq > ? ORDER BY seq LIMIT ?").raw(true);
    // The same rows' bodies, back to back (CAST keeps the bytes as they are):
    // one buffer per fetch instead of one per row.
    this.#readBodiesAfter = this.#db
      .prepare("SELECT CAST(group_concat(body, x'' ORDER BY seq) AS BLOB) FROM (SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?)")
      .pluck(true);
    // Both statements in one read transaction: they see the same rows.
    this.#fetchTx = this.#db.transaction((window: BacklogWindow, limit: number, budget: number) => this.#fetch(window, limit, budget));
  }

  /**
   * Reads like `StorageBackend.read`: at most `limit` matching events after
   * `afterSequence`, looking at no more than `scanLimit(limit)` rows and
   * `MAX_READ_BYTES` of bodies (but at least one row), returned packed.
   */
  read(afterSequence: bigint, limit: number, patterns: readonly string[] | undefined): PackedRead {
    const matcher = patterns === undefined ? undefined : this.#matcher(patterns);
    const after = Number(afterSequence);
    const window = this.#window(after);
    // A request may come after appends the last fetch could not see.
    window.atEnd = false;
    let index = window.indexAfter(after);
    const bound = scanLimit(limit);
    const picked: number[] = [];
    const typeIndexes = new Map<string, number>();
    const types: string[] = [];
    let scannedTo = after;
    let scanned = 0;
    let bytes = 0;
    let pickedBytes = 0;
    while (picked.length < limit && scanned < bound) {
      if (index === window.rows.length && this.#fetchTx(window, FETCH_ROWS, MAX_READ_BYTES) === 0) break;
      const row = window.rows[index] as RawEventRow;
      const length = row[3];
      if (bytes + length > MAX_READ_BYTES && bytes > 0) break;
      bytes += length;
      scanned += 1;
      scannedTo = row[0];
      if (matcher === undefined || matcher.matches(row[1])) {
        picked.push(index);
        pickedBytes += length;
        if (!typeIndexes.has(row[1])) {
          typeIndexes.set(row[1], types.length);
          types.push(row[1]);
        }
      }
      index += 1;
    }
    const count = picked.length;
    const buffer = new ArrayBuffer(packedSize(count, pickedBytes));
    const views = packedViews(buffer, count);
    const out = new Uint8Array(buffer);
    let offset = bodiesOffset(count);
    const scan: GroupingScan = { priority: 0, keyStart: -1, keyEnd: -1 };
    const keyIndexes = new Map<string, number>([["", 0]]);
    const keys = [""];
    // Bodies are copied in runs: consecutive rows of one fetch lie back to back in its blob.
    let runBlob: Buffer | undefined;
    let runStart = 0;
    let runEnd = 0;
    for (let i = 0; i < count; i++) {
      const at = picked[i] as number;
      const row = window.rows[at] as RawEventRow;
      const blob = window.blobs[at] as Buffer;
      const start = window.offsets[at] as number;
      views.sequences[i] = BigInt(row[0]);
      views.expireTimes[i] = row[2];
      views.lengths[i] = row[3];
      views.typeIndexes[i] = typeIndexes.get(row[1]) as number;
      if (scanGrouping(blob, start, start + row[3], scan)) {
        views.priorities[i] = scan.priority;
        const key = scan.keyStart < scan.keyEnd ? blob.toString("utf8", scan.keyStart, scan.keyEnd) : "";
        let keyIndex = keyIndexes.get(key);
        if (keyIndex === undefined) {
          keyIndex = keys.length;
          keyIndexes.set(key, keyIndex);
          keys.push(key);
        }
        views.keyIndexes[i] = keyIndex;
      } else {
        views.priorities[i] = UNKNOWN_PRIORITY;
      }
      if (blob !== runBlob || start !== runEnd) {
        if (runBlob !== undefined) offset += runBlob.copy(out, offset, runStart, runEnd);
        runBlob = blob;
        runStart = start;
      }
      runEnd = start + row[3];
    }
    if (runBlob !== undefined) runBlob.copy(out, offset, runStart, runEnd);
    window.dropThrough(scannedTo);
    return { scannedTo: BigInt(scannedTo), buffer, count, types, keys };
  }

  /**
   * Reads one more fetch of rows ahead of the last read, if its window
   * holds less than a read's worth. Returns true when there may be more to
   * read ahead (the caller calls again after letting requests in).
   */
  readAhead(): boolean {
    const window = this.#last;
    if (window === undefined || window.atEnd) return false;
    if (window.size >= AHEAD_ROWS || window.bytes >= AHEAD_BYTES) return false;
    return this.#fetchTx(window, Math.min(FETCH_ROWS, AHEAD_ROWS - window.size), AHEAD_BYTES - window.bytes) > 0;
  }

  /** Closes the connection. */
  close(): void {
    this.#db.close();
  }

  /**
   * The window for a read after `afterSequence`: the one whose reader's
   * last read ended there, else one that holds that place, else a new one
   * starting there (in place of the one used least recently).
   */
  #window(afterSequence: number): BacklogWindow {
    let window = this.#windows.find((w) => w.from === afterSequence) ?? this.#windows.find((w) => w.covers(afterSequence));
    if (window === undefined) {
      window = new BacklogWindow(afterSequence);
      if (this.#windows.length >= MAX_WINDOWS) {
        const oldest = this.#windows.reduce((a, b) => (a.usedAt <= b.usedAt ? a : b));
        this.#windows.splice(this.#windows.indexOf(oldest), 1);
      }
      this.#windows.push(window);
    }
    window.usedAt = ++this.#reads;
    this.#last = window;
    return window;
  }

  /**
   * Appends the rows after the window's end (at most `limit`, and only as
   * many bodies as fit in `budget` bytes, but at least one) to it. Returns
   * how many it appended; 0 at the end of the log.
   */
  #fetch(window: BacklogWindow, limit: number, budget: number): number {
    const after = window.to;
    const rows = this.#readAfter.all(after, limit) as RawEventRow[];
    let take = 0;
    let size = 0;
    for (const row of rows) {
      if (size + row[3] > budget && size > 0) break;
      size += row[3];
      take += 1;
    }
    window.atEnd = rows.length < limit;
    if (take === 0) return 0;
    window.append(rows, take, this.#readBodiesAfter.get(after, take) as Buffer);
    return take;
  }

  #matcher(patterns: readonly string[]): PatternMatcher {
    const key = patterns.join("\n");
    let matcher = this.#matchers.get(key);
    if (matcher === undefined) {
      if (this.#matchers.size >= MAX_MATCHERS) this.#matchers.clear();
      matcher = compilePatterns(patterns);
      this.#matchers.set(key, matcher);
    }
    return matcher;
  }
}
