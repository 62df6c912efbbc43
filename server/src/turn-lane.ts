/**
 * One job per turn of the event loop: work that would hold the loop for
 * long (decoding a large request, the next slice of a long check) waits in
 * a lane and runs in a turn of its own, so calls read in between are
 * answered in between. A lane is shared by everything of the process that
 * takes turns for the same reason, as they share the event loop.
 */

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

  /** @param limit Most bytes held by started jobs at once (one job always may start). */
  constructor(limit: number = Infinity) {
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
