/**
 * The group engine's commit batching: writes (settled sequences, retry
 * records, dead letters) gather in one pending batch and are committed
 * together, at the end of the tick when someone waits for them (a confirmed
 * ack, a nack, a member leaving), or within `intervalMs` for unconfirmed
 * acks (sooner once `maxPendingAcks` wait). A failed commit rejects its
 * waiters; one nobody waited for is kept for the next claim to report.
 */
import type { DeadRecord, RetryRecord } from "./group-persistence.js";

/** The writes of one commit. */
export interface PendingWrites {
  /** Sequences settled (acked or dead-lettered) since the last commit. */
  readonly settled: number[];
  /** Retry records to write, by sequence (the latest wins). */
  readonly retries: Map<number, RetryRecord>;
  /** Sequences whose retry record goes away. */
  readonly clearedRetries: Set<number>;
  /** Dead letters to write. */
  readonly dead: DeadRecord[];
}

/** Timing of {@link CommitBatcher}. */
export interface CommitBatcherOptions {
  /** Longest time, in ms, an unconfirmed ack stays uncommitted. */
  readonly intervalMs: number;
  /** Pending settled sequences that start a commit before the interval is over. */
  readonly maxPendingAcks: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Batches the writes of one group into commits. */
export class CommitBatcher {
  readonly #commit: (writes: PendingWrites) => void | Promise<void>;
  readonly #options: CommitBatcherOptions;
  #pending: (PendingWrites & { waiters: Waiter[] }) | undefined;
  #scheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #failure: unknown;

  /** `commit` writes one batch; it may throw or return a promise of durability. */
  constructor(commit: (writes: PendingWrites) => void | Promise<void>, options: CommitBatcherOptions) {
    this.#commit = commit;
    this.#options = options;
  }

  /** The writes not yet committed; whoever adds to them schedules their commit. */
  get pending(): PendingWrites {
    this.#pending ??= { settled: [], retries: new Map(), clearedRetries: new Set(), dead: [], waiters: [] };
    return this.#pending;
  }

  /** Whether any writes wait for a commit. */
  get hasPending(): boolean {
    return this.#pending !== undefined;
  }

  /** Commits the pending writes at the end of this tick. */
  soon(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Commits the pending writes within the interval, or at the end of this tick when many acks wait. */
  later(): void {
    if (this.#scheduled) return;
    if ((this.#pending?.settled.length ?? 0) >= this.#options.maxPendingAcks) {
      this.soon();
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#options.intervalMs);
    // Shutdown commits what is pending; a crash may lose it, as the contract allows.
    this.#timer.unref();
  }

  /** Resolves once the pending writes (and any added this tick) are committed; rejects when the commit fails. */
  committed(): Promise<void> {
    const batch = this.pending as PendingWrites & { waiters: Waiter[] };
    this.soon();
    return new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  /** The failure of a commit nobody waited for, once; undefined when there is none. */
  takeFailure(): unknown {
    const failure = this.#failure;
    this.#failure = undefined;
    return failure;
  }

  /** Stops the interval timer without committing. */
  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Commits the pending writes now. */
  flush(): void {
    this.#scheduled = false;
    this.cancel();
    const batch = this.#pending;
    if (batch === undefined) return;
    this.#pending = undefined;
    const fail = (error: unknown): void => {
      if (batch.waiters.length === 0) this.#failure = error;
      for (const waiter of batch.waiters) waiter.reject(error);
    };
    const done = (): void => {
      for (const waiter of batch.waiters) waiter.resolve();
    };
    try {
      const written = this.#commit(batch);
      // A store that writes over the network settles the batch's acks when the write is durable.
      if (written instanceof Promise) written.then(done, fail);
      else done();
    } catch (error) {
      fail(error);
    }
  }
}
