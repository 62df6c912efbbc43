/**
 * A window of the events table held by the backlog reader thread: every
 * row with a sequence in (`from`, `to`], in order, with its body. A reader
 * paging through the backlog has its own (its next read starts where its
 * last one ended, at `from`), which the thread fills ahead of it between
 * requests.
 *
 * Rows never change once committed and new ones only get higher sequences
 * (the main connection is the only writer, and nothing deletes events), so
 * a window is a run of final rows: a read answered from it is the read the
 * database would answer. It never stands for "the end of the log": a read
 * that runs past it reads on from the database.
 *
 * Sequences are numbers here (exact up to 2^53): the thread compares and
 * stores many, and a number costs no allocation where a bigint does.
 */

/** A row of the events table as the thread reads it (an array: better-sqlite3 builds it faster than an object). */
export type RawEventRow = [seq: number, type: string, expireTime: number, bodyLength: number];

/** See the file comment. */
export class BacklogWindow {
  /** The rows from index `first` on are in the window; those before it were read and are dropped in bulk. */
  rows: RawEventRow[] = [];
  /** Each row's body is `blobs[i]` from `offsets[i]` on, `rows[i][3]` bytes (the bodies of one fetch share a blob). */
  blobs: Buffer[] = [];
  offsets: number[] = [];
  first = 0;
  /** Bytes of the bodies in the window. */
  bytes = 0;
  /** True when the last fetch into it found no more rows. */
  atEnd = false;
  /** When a read last used it, to pick the window to give up. */
  usedAt = 0;

  constructor(
    /** Every row after this is in the window, up to `to`. */
    public from: number,
    public to: number = from,
  ) {}

  /** Rows in the window. */
  get size(): number {
    return this.rows.length - this.first;
  }

  /** True when a read after `sequence` can start in this window. */
  covers(sequence: number): boolean {
    return sequence >= this.from && sequence <= this.to;
  }

  /** The index of the first row after `sequence`, which the window covers. */
  indexAfter(sequence: number): number {
    let low = this.first;
    let high = this.rows.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.rows[mid] as RawEventRow)[0] <= sequence) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Appends `count` rows fetched after `to`, whose bodies are `blob`, back to back. */
  append(rows: readonly RawEventRow[], count: number, blob: Buffer): void {
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const row = rows[i] as RawEventRow;
      this.rows.push(row);
      this.blobs.push(blob);
      this.offsets.push(offset);
      offset += row[3];
    }
    this.bytes += offset;
    if (count > 0) this.to = (rows[count - 1] as RawEventRow)[0];
  }

  /** Forgets the rows up to `sequence`: its reader has moved past them. */
  dropThrough(sequence: number): void {
    if (sequence <= this.from) return;
    while (this.first < this.rows.length && (this.rows[this.first] as RawEventRow)[0] <= sequence) {
      this.bytes -= (this.rows[this.first] as RawEventRow)[3];
      this.first += 1;
    }
    this.from = sequence;
    if (this.to < sequence) this.to = sequence;
    // Compact now and then, not on every read.
    if (this.first >= 1024 || this.first === this.rows.length) {
      this.rows = this.rows.slice(this.first);
      this.blobs = this.blobs.slice(this.first);
      this.offsets = this.offsets.slice(this.first);
      this.first = 0;
    }
  }
}
