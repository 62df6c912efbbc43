/**
 * Failures of a store's background work (retention, checkpoints, reader
 * threads) told to the server's log. That work is retried by itself and
 * counted by a metric, but a counter says neither what failed nor why: an
 * operator who sees `protobus_sqlite_retention_failures_total` climb needs
 * the error (a full disk, a locked file) to act on it. A failure that comes
 * back at every retry (once a second for retention) would fill the log, so
 * the first one is logged at once and the rest at most once per interval,
 * with how many there were.
 */
import type { Logger } from "../logger.js";

/** Failures of one kind of background work, each interval at most one log line. */
export class FailureLog {
  readonly #logger: Logger | undefined;
  readonly #what: string;
  readonly #then: string;
  readonly #intervalMs: number;
  readonly #clock: () => number;
  #lastLoggedAt = -Infinity;
  /** Failures since the last line, not logged yet. */
  #unlogged = 0;

  /**
   * `what` names the work in the log line ("sqlite retention could not
   * delete events"), `then` what happens next ("tried again in 1 s");
   * `intervalMs` is the least time between two lines.
   */
  constructor(logger: Logger | undefined, what: string, then: string, intervalMs = 60_000, clock: () => number = () => performance.now()) {
    this.#logger = logger;
    this.#what = what;
    this.#then = then;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  /** One failure, with what was thrown; `about` names what it concerns when the work has several (a group). */
  report(error: unknown, about?: string): void {
    this.#unlogged += 1;
    const now = this.#clock();
    if (now - this.#lastLoggedAt < this.#intervalMs) return;
    const failures = this.#unlogged;
    this.#unlogged = 0;
    this.#lastLoggedAt = now;
    const message = error instanceof Error ? error.message : String(error);
    const count = failures > 1 ? ` (${failures} failures since the last report)` : "";
    const subject = about !== undefined ? `${about}: ` : "";
    this.#logger?.warn(`${this.#what}: ${subject}${message}${count}; ${this.#then}`, { failures });
  }
}
