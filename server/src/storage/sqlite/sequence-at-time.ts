/**
 * The first sequence published at or after an instant, found without an
 * index on `publish_time`. The store never lets publish times go backwards
 * along the sequence (a commit's time is at least the previous one's), so
 * "the first row at or after sequence s was published at or after t" holds
 * for every s from some point on: a binary search over sequences, each step
 * one lookup on the primary key. Gaps in the sequence (ranges a recovery
 * lost) need no care: a step reads the first row at or after its sequence.
 *
 * The index this replaces cost every insert a fourth B-tree: 0.4–0.6 µs
 * of CPU per row and one WAL page of the four or five a one-event commit
 * writes.
 */
import type Database from "better-sqlite3";

/** See the file comment. */
export class SequenceAtTime {
  readonly #firstFrom: Database.Statement;
  readonly #lowest: Database.Statement;

  constructor(db: Database.Database) {
    this.#firstFrom = db.prepare("SELECT seq, publish_time FROM events WHERE seq >= ? ORDER BY seq LIMIT 1").safeIntegers(true);
    this.#lowest = db.prepare("SELECT min(seq) AS seq FROM events").safeIntegers(true);
  }

  /** The lowest sequence stored (one lookup on the primary key); undefined when the store is empty. */
  lowest(): bigint | undefined {
    return (this.#lowest.get() as { seq: bigint | null }).seq ?? undefined;
  }

  /** The sequence of the first event published at or after `timeMs`, among those up to `head`; head + 1 when there is none. */
  find(timeMs: number, head: bigint): bigint {
    const lowest = this.lowest();
    if (lowest === undefined || lowest > head) return head + 1n;
    // The smallest s in [lowest, head + 1] whose first row at or after it was published at or after timeMs (head + 1 always is).
    let lo = lowest;
    let hi = head + 1n;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      const row = this.#firstFrom.get(mid) as { seq: bigint; publish_time: bigint } | undefined;
      if (row === undefined || row.seq > head || Number(row.publish_time) >= timeMs) hi = mid;
      else lo = mid + 1n;
    }
    if (lo > head) return head + 1n;
    const row = this.#firstFrom.get(lo) as { seq: bigint } | undefined;
    return row === undefined || row.seq > head ? head + 1n : row.seq;
  }
}
