/**
 * The backlog reader thread's view of the events table: a read-only
 * connection and a window of rows read ahead of the last read, from which
 * reads are answered and packed for transfer to the main thread.
 *
 * Rows are never changed once committed and new ones only get higher
 * sequences (the main connection is the only writer, and nothing deletes
 * events), so the window is a contiguous run of final rows: a read answered
 * from it is the read the database would answer. It never stands for "the
 * end of the log": a read that runs past the window reads on from the
 * database, which has every event the main thread has announced (it
 * commits before it tells readers).
 */
import Database from "better-sqlite3";
import { compilePatterns, type PatternMatcher } from "@protobus/sdk/internal";
import { MAX_READ_BYTES, bodiesOffset, packedSize, packedViews, scanLimit } from "./backlog-protocol.js";

/** A row of `#readAfter` as an array: better-sqlite3 builds it faster than an object. */
type RawEventRow = [seq: bigint, type: string, expireTime: bigint, bodyLength: bigint];

/** One read's outcome, packed. */
export interface PackedRead {
  readonly scannedTo: bigint;
  readonly buffer: ArrayBuffer;
  readonly count: number;
  readonly types: string[];
}

/** Rows one database read fetches at most. */
const FETCH_ROWS = 1024;

/** Rows kept ahead of the last read: a little more than a full read of 1,024 dense events. */
const AHEAD_ROWS = 2048;

/** Matchers kept compiled, by their patterns; readers reuse a handful. */
const MAX_MATCHERS = 64;

/** See the file comment. */
export class BacklogRows {
  readonly #db: Database.Database;
  readonly #readAfter: Database.Statement;
  readonly #readBodiesAfter: Database.Statement;
  readonly #fetchTx: (after: bigint, limit: number, budget: number) => number;
  readonly #matchers = new Map<string, PatternMatcher>();
  /** The window: every row with a sequence in (`#from`, `#to`], in order, from index `#first` on. */
  #rows: RawEventRow[] = [];
  #bodies: Uint8Array[] = [];
  #first = 0;
  #from = 0n;
  #to = 0n;
  /** Bytes of the bodies in the window. */
  #bytes = 0;
  /** True when the last fetch found no more rows: no read-ahead until a read asks again. */
  #atEnd = false;

  constructor(path: string) {
    this.#db = new Database(path, { readonly: true, fileMustExist: true });
    this.#db.defaultSafeIntegers(true);
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
    this.#fetchTx = this.#db.transaction((after: bigint, limit: number, budget: number) => this.#fetch(after, limit, budget));
  }

  /**
   * Reads like `StorageBackend.read`: at most `limit` matching events after
   * `afterSequence`, looking at no more than `scanLimit(limit)` rows and
   * `MAX_READ_BYTES` of bodies (but at least one row), returned packed.
   */
  read(afterSequence: bigint, limit: number, patterns: readonly string[] | undefined): PackedRead {
    const matcher = patterns === undefined ? undefined : this.#matcher(patterns);
    // A request may come after appends the last fetch could not see.
    this.#atEnd = false;
    let index = this.#seek(afterSequence);
    const bound = scanLimit(limit);
    const picked: number[] = [];
    const typeIndexes = new Map<string, number>();
    const types: string[] = [];
    let scannedTo = afterSequence;
    let scanned = 0;
    let bytes = 0;
    let pickedBytes = 0;
    while (picked.length < limit && scanned < bound) {
      if (index === this.#rows.length && this.#fetchTx(this.#to, FETCH_ROWS, MAX_READ_BYTES) === 0) break;
      const row = this.#rows[index] as RawEventRow;
      const length = Number(row[3]);
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
    for (let i = 0; i < count; i++) {
      const at = picked[i] as number;
      const row = this.#rows[at] as RawEventRow;
      const body = this.#bodies[at] as Uint8Array;
      views.sequences[i] = row[0];
      views.expireTimes[i] = Number(row[2]);
      views.lengths[i] = body.byteLength;
      views.typeIndexes[i] = typeIndexes.get(row[1]) as number;
      out.set(body, offset);
      offset += body.byteLength;
    }
    this.#dropThrough(scannedTo);
    return { scannedTo, buffer, count, types };
  }

  /**
   * Reads one more fetch of rows ahead of the window, if the window holds
   * less than a read's worth. Returns true when there may be more to read
   * ahead (the caller calls again after letting requests in).
   */
  readAhead(): boolean {
    if (this.#atEnd) return false;
    const ahead = this.#rows.length - this.#first;
    if (ahead >= AHEAD_ROWS || this.#bytes >= MAX_READ_BYTES) return false;
    const fetched = this.#fetchTx(this.#to, Math.min(FETCH_ROWS, AHEAD_ROWS - ahead), MAX_READ_BYTES - this.#bytes);
    return fetched > 0;
  }

  /** Closes the connection. */
  close(): void {
    this.#db.close();
  }

  /** The index of the first row after `afterSequence`, starting the window over there when it is not inside it. */
  #seek(afterSequence: bigint): number {
    if (afterSequence < this.#from || afterSequence > this.#to) {
      this.#rows = [];
      this.#bodies = [];
      this.#first = 0;
      this.#bytes = 0;
      this.#from = afterSequence;
      this.#to = afterSequence;
      this.#atEnd = false;
      return 0;
    }
    // Binary search: sequences increase along the window.
    let low = this.#first;
    let high = this.#rows.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#rows[mid] as RawEventRow)[0] <= afterSequence) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * Appends the rows after `after` (at most `limit`, and only as many
   * bodies as fit in `budget` bytes, but at least one) to the window.
   * Returns how many it appended; 0 at the end of the log.
   */
  #fetch(after: bigint, limit: number, budget: number): number {
    const rows = this.#readAfter.all(after, limit) as RawEventRow[];
    let take = 0;
    let size = 0;
    for (const row of rows) {
      const length = Number(row[3]);
      if (size + length > budget && size > 0) break;
      size += length;
      take += 1;
    }
    this.#atEnd = rows.length < limit;
    if (take === 0) return 0;
    const blob = this.#readBodiesAfter.get(after, take) as Buffer;
    let offset = 0;
    for (let i = 0; i < take; i++) {
      const row = rows[i] as RawEventRow;
      const length = Number(row[3]);
      this.#rows.push(row);
      this.#bodies.push(blob.subarray(offset, offset + length));
      offset += length;
    }
    this.#bytes += size;
    this.#to = (rows[take - 1] as RawEventRow)[0];
    return take;
  }

  /** Forgets the rows up to `sequence`: readers move forward, and the window holds only what is ahead. */
  #dropThrough(sequence: bigint): void {
    if (sequence <= this.#from) return;
    while (this.#first < this.#rows.length && (this.#rows[this.#first] as RawEventRow)[0] <= sequence) {
      this.#bytes -= (this.#bodies[this.#first] as Uint8Array).byteLength;
      this.#first += 1;
    }
    this.#from = sequence;
    // Compact now and then, not on every read.
    if (this.#first >= FETCH_ROWS || this.#first === this.#rows.length) {
      this.#rows = this.#rows.slice(this.#first);
      this.#bodies = this.#bodies.slice(this.#first);
      this.#first = 0;
    }
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
