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
 *
 * Copying the WAL into the database file is not enough to keep the WAL
 * small: the writer starts writing it from its beginning again (a restart)
 * only when, as its next transaction begins, every frame of the WAL has
 * been copied. A checkpoint copies the frames that were there when it
 * began, so under a steady stream of commits (800 a second at 2,000
 * events/s) one always landed meanwhile: the WAL grew to the safety net,
 * and the writer's own checkpoint there, with its fsyncs and a truncation
 * of the file back to the size limit, stalled the server's thread for
 * 10–15 ms every two seconds. So once the WAL holds
 * {@link RESTART_FRAMES}, the checkpointer *holds commits*: the store
 * queues appends (its thread stays free) while one more checkpoint copies
 * what the previous one left, then commits them, and that commit restarts
 * the WAL. The hold lasts one short checkpoint, at most
 * {@link MAX_HOLD_MS}.
 */
import { Worker } from "node:worker_threads";

/** Pages of WAL at which the writer checkpoints by itself (SQLite's default is 1,000). */
export const FALLBACK_CHECKPOINT_PAGES = 10_000;

/** Shortest time between the starts of two checkpoints, in ms. */
export const CHECKPOINT_INTERVAL_MS = 100;

/**
 * Frames of WAL (~16 MiB of 4 KiB pages) at which commits are held for a
 * checkpoint that lets the WAL restart: about three holds a second at
 * 60 MB/s of WAL. Well below the WAL's size limit (`WAL_SIZE_LIMIT`), so
 * that a restart never has to truncate the file.
 */
export const RESTART_FRAMES = 4096;

/** Longest time commits are held for a restarting checkpoint, in ms. */
export const MAX_HOLD_MS = 25;

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
  /** Checkpoints that held commits so that the WAL would restart (see the file comment). */
  readonly holds: number;
  /** How long commits were held by them, in all, in ms. */
  readonly heldMs: number;
  /** Frames the WAL held when the last checkpoint ended (0 before the first). */
  readonly walFrames: number;
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
  /** Commits are held until the running checkpoint is done (see the file comment). */
  #holding = false;
  #holdTimer: NodeJS.Timeout | undefined;
  /** When the hold under way began (`performance.now()`). */
  #holdStart = 0;
  #heldMs = 0;
  #walFrames = 0;
  readonly #onRelease: () => void;
  readonly #onFailure: (message: string) => void;
  #checkpoints = 0;
  #holds = 0;
  #checkpointedFrames = 0;
  #failures = 0;
  #lastError: string | undefined;
  /** When the thread died last, so that a thread that keeps dying is not restarted in a loop. */
  #lostAt = -Infinity;

  /**
   * `onRelease` runs when held commits may go ahead (see {@link holdsCommits});
   * `onFailure` is told of each checkpoint that failed and of the thread's death.
   */
  constructor(data: CheckpointerWorkerData, onRelease: () => void = () => undefined, onFailure: (message: string) => void = () => undefined) {
    this.#data = data;
    this.#onRelease = onRelease;
    this.#onFailure = onFailure;
  }

  /**
   * True while a checkpoint that lets the WAL restart runs: the writer must
   * not commit until `onRelease` is called (a commit would leave a frame
   * behind, and the WAL would not restart).
   */
  get holdsCommits(): boolean {
    return this.#holding;
  }

  /** Something was committed: a checkpoint should follow (now, or once the interval has passed). */
  nudge(): void {
    if (this.#closed) return;
    this.#wanted = true;
    this.#schedule();
  }

  /** See {@link CheckpointStats}. */
  stats(): CheckpointStats {
    const holding = this.#holding ? performance.now() - this.#holdStart : 0;
    return {
      checkpoints: this.#checkpoints,
      holds: this.#holds,
      heldMs: this.#heldMs + holding,
      walFrames: this.#walFrames,
      checkpointedFrames: this.#checkpointedFrames,
      failures: this.#failures,
      lastError: this.#lastError,
    };
  }

  /** Stops the thread (a checkpoint under way ends with it; the writer's close checkpoints the rest). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
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
    this.#run(now);
  }

  #run(now: number): void {
    this.#running = true;
    this.#lastStart = now;
    const worker = this.#worker ?? this.#start();
    worker.ref();
    worker.postMessage(null);
  }

  /** Holds commits and checkpoints at once: no commit lands between this checkpoint's start and its end. */
  #hold(): void {
    this.#holding = true;
    this.#holds += 1;
    this.#holdStart = performance.now();
    this.#holdTimer = setTimeout(() => this.#release(), MAX_HOLD_MS);
    this.#holdTimer.unref();
    this.#run(performance.now());
  }

  #release(): void {
    if (!this.#holding) return;
    this.#holding = false;
    this.#heldMs += performance.now() - this.#holdStart;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    this.#onRelease();
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
      this.#walFrames = reply.walFrames;
    } else {
      this.#failures += 1;
      this.#lastError = reply.message;
      this.#onFailure(reply.message);
    }
    if (this.#holding) {
      // The held checkpoint is done: the next commit restarts the WAL (unless a reader still reads its frames).
      this.#release();
    } else if (reply.ok && reply.walFrames >= RESTART_FRAMES && !this.#closed) {
      this.#hold();
      return;
    }
    this.#schedule();
  }

  #lost(worker: Worker, message: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#running = false;
    this.#lostAt = performance.now();
    this.#release();
    if (this.#closed) return;
    this.#failures += 1;
    this.#lastError = message;
    this.#onFailure(message);
    this.#wanted = true;
    this.#schedule();
  }
}
