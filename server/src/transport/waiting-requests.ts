/**
 * A budget for large requests received and waiting for their turn.
 *
 * grpc-js has read a request's every byte before the server sees it, and a
 * large request (see request-lane.ts) then waits, as bytes, for its turn to
 * be decoded. Without a bound, what waits grows with whatever clients send
 * at once: 20 connections each sending 8 publishes of 3 MB held over 1 GB.
 * The server therefore counts the encoded bytes of large requests from when
 * they are received until their turn starts, and refuses a large request
 * that would take the count past `max-waiting-request-bytes`, or take its
 * connection's share past a quarter of that, with RESOURCE_EXHAUSTED: a
 * `QuotaFailure` naming the limit, and a `RetryInfo` delay of about the
 * time the server needs to take in what already waits, at the rate it took
 * large requests in while some waited (before it has measured one, the
 * shortest delay). A refused request is dropped at once; a
 * refused message of a stream ends the stream after the messages before it
 * have been answered. One large request always fits when none waits, so a
 * request larger than the budget is still served, alone.
 */
import type { ProtobusError } from "@protobus/sdk";
import { resourceExhausted } from "../security/security-errors.js";

/** The setting the budget is configured by. */
export const WAITING_LIMIT_NAME = "max-waiting-request-bytes";

/** A connection may have this share of the budget waiting. */
const CONNECTION_SHARE = 4;

/** Weight of the latest turn in the averages of the rate (an exponential moving average). */
const RATE_WEIGHT = 1 / 8;

/** Bounds of the retry delay a refusal names. */
const MIN_RETRY_MS = 50;
const MAX_RETRY_MS = 5_000;

/** Options of {@link WaitingRequests}. */
export interface WaitingRequestsOptions {
  /** Most encoded bytes of large requests waiting at once, all connections together. */
  readonly limit: number;
  /** Told about each refusal (for the throttling metric). */
  readonly onRefused?: () => void;
  /** The clock, in ms; `performance.now` by default. */
  readonly now?: () => number;
}

/** The bytes of large requests waiting for their turn, by connection, and their bound. */
export class WaitingRequests {
  readonly #limit: number;
  readonly #share: number;
  readonly #now: () => number;
  readonly #onRefused: () => void;
  readonly #byKey = new Map<string, number>();
  #bytes = 0;
  #refused = 0;
  // When the last request left the wait (its turn started), or the wait became non-empty after that.
  #mark = 0;
  // Averages of the bytes of a turn and of the time between two turns while requests waited.
  #turnBytes = 0;
  #turnMs = 0;

  constructor(options: WaitingRequestsOptions) {
    this.#limit = options.limit;
    this.#share = Math.max(1, Math.floor(options.limit / CONNECTION_SHARE));
    this.#now = options.now ?? (() => performance.now());
    this.#onRefused = options.onRefused ?? (() => {});
  }

  /** The configured bound, in bytes. */
  get limit(): number {
    return this.#limit;
  }

  /** Encoded bytes of large requests waiting now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Large requests refused so far. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Counts `bytes` of a large request received on connection `key` as
   * waiting, or returns the refusal when they do not fit (then nothing is
   * counted).
   */
  admit(key: string, bytes: number): ProtobusError | undefined {
    const own = this.#byKey.get(key) ?? 0;
    const overAll = this.#bytes > 0 && this.#bytes + bytes > this.#limit;
    const overShare = own > 0 && own + bytes > this.#share;
    if (overAll || overShare) {
      this.#refused += 1;
      this.#onRefused();
      return this.#refusal(key, bytes, overShare && !overAll);
    }
    if (this.#bytes === 0) this.#mark = this.#now();
    this.#byKey.set(key, own + bytes);
    this.#bytes += bytes;
    return undefined;
  }

  /** Gives back `bytes` of connection `key`: the request's turn started (or it was dropped). */
  release(key: string, bytes: number): void {
    const own = (this.#byKey.get(key) ?? 0) - bytes;
    if (own > 0) this.#byKey.set(key, own);
    else this.#byKey.delete(key);
    this.#bytes = Math.max(0, this.#bytes - bytes);
    const now = this.#now();
    const first = this.#turnBytes === 0;
    this.#turnBytes = first ? bytes : this.#turnBytes + RATE_WEIGHT * (bytes - this.#turnBytes);
    this.#turnMs = first ? now - this.#mark : this.#turnMs + RATE_WEIGHT * (now - this.#mark - this.#turnMs);
    this.#mark = now;
  }

  /** About how long until what waits now has been taken in, at the rate measured so far. */
  #retryAfterMs(): number {
    const estimate = this.#turnBytes > 0 ? (this.#bytes * this.#turnMs) / this.#turnBytes : 0;
    return Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, estimate));
  }

  #refusal(key: string, bytes: number, connection: boolean): ProtobusError {
    const subject = `connection:${key}`;
    const violation = connection
      ? {
          subject,
          limit: WAITING_LIMIT_NAME,
          value: this.#limit,
          description: `a request of ${bytes} bytes does not fit: this connection has ${this.#byKey.get(key) ?? 0} bytes of large requests waiting to be decoded, and one connection may have a quarter of the limit (${this.#share} bytes)`,
        }
      : {
          subject,
          limit: WAITING_LIMIT_NAME,
          value: this.#limit,
          description: `a request of ${bytes} bytes does not fit: ${this.#bytes} bytes of large requests are waiting to be decoded`,
        };
    return resourceExhausted([violation], this.#retryAfterMs());
  }
}
