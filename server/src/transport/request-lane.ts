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
 * Runs jobs one per turn of the event loop, in the order they were
 * queued: a job runs in a `setImmediate` callback (its microtasks drain
 * right after it), and the next job's callback is scheduled from there,
 * which Node runs only after the next poll for I/O.
 */
export class TurnLane {
  readonly #queue: Array<() => void> = [];
  #scheduled = false;

  /** Jobs waiting for their turn. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Runs `job` in its turn; resolves with what it returns (a promise it returns is followed). */
  run<T>(job: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(() => {
        try {
          resolve(job());
        } catch (error) {
          reject(error);
        }
      });
      if (!this.#scheduled) this.#schedule();
    });
  }

  #schedule(): void {
    this.#scheduled = true;
    setImmediate(() => {
      const job = this.#queue.shift();
      job?.();
      if (this.#queue.length > 0) this.#schedule();
      else this.#scheduled = false;
    });
  }
}

/** The lane every server of this process shares, as they share its event loop. */
export const requestLane = new TurnLane();
