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
 * Runs jobs one per turn of the event loop: a job runs in a `setImmediate`
 * callback (its microtasks drain right after it), and the next job's
 * callback is scheduled from there, which Node runs only after the next
 * poll for I/O.
 *
 * Jobs are queued by key (the transport's key is the connection), and the
 * keys with waiting jobs take turns: one job of each key per round, the
 * jobs of one key in the order they were queued. A job waits behind about
 * one job per other key with jobs waiting, not behind all of them: with a
 * single queue in arrival order, a second connection's request waited
 * behind every request the first had queued before it.
 *
 * Each job holds a number of bytes from when it starts until it is
 * released; the next job waits while the bytes held and its own would
 * exceed the lane's limit, unless none are held. Later jobs do not pass
 * it, so a large job is never starved by smaller ones.
 */
export class TurnLane {
  readonly #limit: number;
  // Waiting jobs by key; the map's order is the keys' order of turns.
  readonly #queues = new Map<string, Job[]>();
  #scheduled = false;
  #held = 0;

  /** @param limit Most bytes held by started jobs at once (one job always may start). */
  constructor(limit: number = Infinity) {
    this.#limit = limit;
  }

  /** Jobs waiting for their turn. */
  get waiting(): number {
    let waiting = 0;
    for (const queue of this.#queues.values()) waiting += queue.length;
    return waiting;
  }

  /** Bytes held by jobs started and not released. */
  get held(): number {
    return this.#held;
  }

  /**
   * Runs `job` in its turn, holding `bytes` from then until `release(bytes)`;
   * resolves with what it returns (a promise it returns is followed).
   * Jobs of one `key` run in order; keys take turns.
   */
  run<T>(bytes: number, job: () => T | Promise<T>, key = ""): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        try {
          resolve(job());
        } catch (error) {
          reject(error);
        }
      };
      const queue = this.#queues.get(key);
      if (queue === undefined) this.#queues.set(key, [{ bytes, start }]);
      else queue.push({ bytes, start });
      this.#wake();
    });
  }

  /** Gives back bytes a job held, letting waiting jobs start. */
  release(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
    this.#wake();
  }

  /** The key whose turn it is and its first job (a key leaves the turns when its queue empties). */
  #next(): { key: string; queue: Job[]; job: Job } | undefined {
    const first = this.#queues.entries().next();
    if (first.done === true) return undefined;
    const [key, queue] = first.value;
    const job = queue[0];
    return job === undefined ? undefined : { key, queue, job };
  }

  #fits(job: Job): boolean {
    return this.#held === 0 || this.#held + job.bytes <= this.#limit;
  }

  #wake(): void {
    if (this.#scheduled) return;
    const next = this.#next();
    if (next === undefined || !this.#fits(next.job)) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const turn = this.#next();
      if (turn === undefined || !this.#fits(turn.job)) return;
      turn.queue.shift();
      // The key goes to the back of the turns, or leaves them when it has no more jobs.
      this.#queues.delete(turn.key);
      if (turn.queue.length > 0) this.#queues.set(turn.key, turn.queue);
      this.#held += turn.job.bytes;
      turn.job.start();
      this.#wake();
    });
  }
}
