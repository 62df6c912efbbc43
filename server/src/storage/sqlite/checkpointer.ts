/**
 * Checkpoints of the SQLite WAL on a thread of their own
 * (`checkpointer-worker.ts`). SQLite checkpoints on the committing
 * connection by default, every 1,000 pages of WAL: on the server's thread,
 * with the copy into the database file and its fsyncs, 40% of an insert's
 * time in a 100-events-per-commit publish stream. The writer's own
 * automatic checkpoint stays as a safety net at {@link FALLBACK_CHECKPOINT_PAGES}
 * (reached only if this thread stops keeping up or dies).
 *
 * After a commit the store calls {@link Checkpointer.nudge}; at most one
 * checkpoint runs at a time, and a new one starts no sooner than
 * {@link CHECKPOINT_INTERVAL_MS} after the previous one started, so the
 * WAL holds about that long of writes.
 */
import { Worker } from "node:worker_threads";

/** Pages of WAL at which the writer checkpoints by itself (SQLite's default is 1,000). */
export const FALLBACK_CHECKPOINT_PAGES = 10_000;

/** Shortest time between the starts of two checkpoints, in ms. */
export const CHECKPOINT_INTERVAL_MS = 100;

/** What the thread is started with. */
export interface CheckpointerWorkerData {
  readonly path: string;
  readonly synchronous: "NORMAL" | "FULL";
}

/** One checkpoint's outcome, as the thread reports it. */
export type CheckpointReply =
  | { readonly ok: true; readonly busy: boolean; readonly walFrames: number; readonly checkpointedFrames: number }
  | { readonly ok: false; readonly message: string };

/** What the checkpointer did so far; tests read it. */
export interface CheckpointStats {
  /** Checkpoints the thread completed. */
  readonly checkpoints: number;
  /** Frames they copied into the database file, in all. */
  readonly checkpointedFrames: number;
  /** Checkpoints that failed (the writer's safety net still bounds the WAL). */
  readonly failures: number;
  /** The last failure's message. */
  readonly lastError: string | undefined;
}

/** See the file comment. */
export class Checkpointer {
  readonly #data: CheckpointerWorkerData;
  #worker: Worker | undefined;
  #running = false;
  #wanted = false;
  #lastStart = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #checkpoints = 0;
  #checkpointedFrames = 0;
  #failures = 0;
  #lastError: string | undefined;
  /** When the thread died last, so that a thread that keeps dying is not restarted in a loop. */
  #lostAt = -Infinity;

  constructor(data: CheckpointerWorkerData) {
    this.#data = data;
  }

  /** Something was committed: a checkpoint should follow (now, or once the interval has passed). */
  nudge(): void {
    if (this.#closed) return;
    this.#wanted = true;
    this.#schedule();
  }

  /** See {@link CheckpointStats}. */
  stats(): CheckpointStats {
    return { checkpoints: this.#checkpoints, checkpointedFrames: this.#checkpointedFrames, failures: this.#failures, lastError: this.#lastError };
  }

  /** Stops the thread (a checkpoint under way ends with it; the writer's close checkpoints the rest). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  #schedule(): void {
    if (this.#running || this.#timer !== undefined || !this.#wanted) return;
    const now = performance.now();
    // A thread that died less than a second ago is not started again yet.
    const wait = Math.max(this.#lastStart + CHECKPOINT_INTERVAL_MS - now, this.#lostAt + 1000 - now, 0);
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, wait);
      this.#timer.unref();
      return;
    }
    this.#wanted = false;
    this.#running = true;
    this.#lastStart = now;
    const worker = this.#worker ?? this.#start();
    worker.ref();
    worker.postMessage(null);
  }

  #start(): Worker {
    const worker = new Worker(new URL("./checkpointer-worker.js", import.meta.url), {
      workerData: this.#data,
      // It allocates next to nothing.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    worker.unref();
    worker.on("message", (reply: CheckpointReply) => this.#done(worker, reply));
    worker.on("error", (error) => this.#lost(worker, error.message));
    worker.on("exit", (code) => this.#lost(worker, `the checkpointer thread exited with code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #done(worker: Worker, reply: CheckpointReply): void {
    if (this.#worker !== worker) return;
    worker.unref();
    this.#running = false;
    if (reply.ok) {
      this.#checkpoints += 1;
      this.#checkpointedFrames += reply.checkpointedFrames;
    } else {
      this.#failures += 1;
      this.#lastError = reply.message;
    }
    this.#schedule();
  }

  #lost(worker: Worker, message: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#running = false;
    this.#lostAt = performance.now();
    if (this.#closed) return;
    this.#failures += 1;
    this.#lastError = message;
    this.#wanted = true;
    this.#schedule();
  }
}
