/**
 * The port between the outbox relay and a database: each backend
 * (PostgreSQL, SQLite) implements it once; the relay loop is written once.
 */

/** A committed outbox row waiting to be published. */
export interface OutboxRow {
  /** The row's key in its table. */
  readonly id: string;
  /** The encoded `protobus.v1.Event`, id and correlation filled at write time. */
  readonly envelope: Uint8Array;
  /** When the row was written. */
  readonly createdAt: Date;
}

/** What became of a row: stored under a bus sequence, or refused for good. */
export type OutboxOutcome =
  | { readonly id: string; readonly published: true; readonly sequence: bigint }
  | { readonly id: string; readonly published: false; readonly error: string };

/** Rows not published yet. */
export interface OutboxBacklog {
  /** How many committed rows wait. */
  readonly count: number;
  /** When the oldest of them was written; undefined when none waits. */
  readonly oldest: Date | undefined;
}

/** A database an outbox relay reads from. */
export interface OutboxStore {
  /** Names the outbox in logs and metrics (its table). */
  readonly name: string;
  /**
   * Makes this relay the one that publishes from the table, or keeps it so;
   * false while another relay holds it. Several relays on one table never
   * publish at the same time.
   */
  lead(): Promise<boolean>;
  /** Up to `limit` unpublished committed rows, in commit order. */
  read(limit: number): Promise<OutboxRow[]>;
  /** Records what became of rows returned by `read`; a row not named stays pending. */
  settle(outcomes: readonly OutboxOutcome[]): Promise<void>;
  /**
   * Resolves when new rows may have been committed (a notification, a
   * change seen by a cheap poll) or after `timeoutMs`, or when `signal` aborts.
   */
  waitForRows(timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** The rows still waiting. */
  backlog(): Promise<OutboxBacklog>;
  /** Gives up the lead and closes the relay's own connection. */
  close(): Promise<void>;
}
