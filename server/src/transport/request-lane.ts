/**
 * Large requests take turns. grpc-js decodes each request message in a
 * microtask and hands it to the handler in the same drain of the microtask
 * queue, so requests whose last bytes arrive together (twenty publishes of
 * 10,000 events, say) were decoded, validated and stored back to back
 * without the event loop getting a turn: every other caller waited for all
 * of them (650–780 ms measured). A request of {@link LARGE_REQUEST_BYTES}
 * or more is therefore not decoded when it arrives: the request guard
 * wraps its bytes in a {@link DeferredRequest}, and the interceptor chain
 * decodes and passes it on in the {@link requestLane}'s next turn, one
 * large request per turn of the event loop, in arrival order. Calls in
 * between (small requests, acks, health checks) are read and answered
 * between two large requests. Small requests are not delayed at all.
 *
 * The lane also bounds the memory of large requests in progress: a
 * request holds its encoded size from its turn until its call answers it
 * (a response message, or the call's end), and requests past
 * {@link MAX_LARGE_BYTES_IN_PROGRESS} wait as bytes, not decoded: a
 * decoded request takes about ten times its encoded size, and the SQLite
 * store commits at most 4,096 events a turn while the lane decodes a whole
 * request a turn.
 */

/** Requests of at least this many encoded bytes are decoded in turns (see the module comment). */
export const LARGE_REQUEST_BYTES = 64 * 1024;

/** A large request as received: decoded when its turn comes. */
export class DeferredRequest {
  readonly #decode: (bytes: Buffer) => unknown;

  constructor(
    /** The encoded request. */
    readonly bytes: Buffer,
    decode: (bytes: Buffer) => unknown,
  ) {
    this.#decode = decode;
  }

  /** The request as the method's deserializer makes it (which never throws: see request-guard.ts). */
  decode(): unknown {
    return this.#decode(this.bytes);
  }
}

/** True for a request left to be decoded in its turn. */
export function isDeferredRequest(message: unknown): message is DeferredRequest {
  return message instanceof DeferredRequest;
}

/**
 * Most encoded bytes of large requests in progress at once (decoded and
 * not yet answered): a decoded request takes several times its encoded
 * size, and it stays in memory until stored. Past this, large requests
 * wait, as bytes, for earlier ones to be answered; one always proceeds.
 */
export const MAX_LARGE_BYTES_IN_PROGRESS = 8 * 2 ** 20;

interface Job {
  readonly bytes: number;
  readonly start: () => void;
}

/**
 * Runs jobs one per turn of the event loop, in the order they were
 * queued: a job runs in a `setImmediate` callback (its microtasks drain
 * right after it), and the next job's callback is scheduled from there,
 * which Node runs only after the next poll for I/O. Each job holds a number
 * of bytes from when it starts until it is released; a job waits while the
 * bytes held and its own would exceed the lane's limit, unless none are held.
 */
export class TurnLane {
  readonly #limit: number;
  readonly #queue: Job[] = [];
  #scheduled = false;
  #held = 0;

  constructor(limit: number = MAX_LARGE_BYTES_IN_PROGRESS) {
    this.#limit = limit;
  }

  /** Jobs waiting for their turn. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Bytes held by jobs started and not released. */
  get held(): number {
    return this.#held;
  }

  /**
   * Runs `job` in its turn, holding `bytes` from then until `release(bytes)`;
   * resolves with what it returns (a promise it returns is followed).
   */
  run<T>(bytes: number, job: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        try {
          resolve(job());
        } catch (error) {
          reject(error);
        }
      };
      this.#queue.push({ bytes, start });
      this.#wake();
    });
  }

  /** Gives back bytes a job held, letting waiting jobs start. */
  release(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
    this.#wake();
  }

  #fits(job: Job): boolean {
    return this.#held === 0 || this.#held + job.bytes <= this.#limit;
  }

  #wake(): void {
    const head = this.#queue[0];
    if (this.#scheduled || head === undefined || !this.#fits(head)) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const job = this.#queue[0];
      if (job === undefined || !this.#fits(job)) return;
      this.#queue.shift();
      this.#held += job.bytes;
      job.start();
      this.#wake();
    });
  }
}

/** The lane every server of this process shares, as they share its event loop. */
export const requestLane = new TurnLane();
