/**
 * The main thread's side of the backlog reader: sends reads of events
 * behind the recent cache to a worker thread with its own read-only
 * connection (`backlog-reader-worker.ts`), and turns its packed answers into
 * `StoredEvent`s whose bytes are views of the one transferred buffer. The
 * server's thread only pays for a message and the views, not for SQLite.
 */
import { Worker } from "node:worker_threads";
import { Code, ProtobusError } from "@protobus/sdk";
import type { PatternMatcher } from "@protobus/sdk/internal";
import type { ReadResult } from "../backend.js";
import { StoredEvent } from "../stored-event.js";
import { type BacklogReply, type BacklogRequest, type BacklogWorkerData, UNKNOWN_PRIORITY, bodiesOffset, packedViews } from "./backlog-protocol.js";
import { sqliteError } from "./errors.js";

/** What the backlog reader did so far; tests use it to see that reads left the main thread. */
export interface BacklogReadStats {
  /** Reads answered by the reader thread. */
  readonly served: number;
  /** The id of the thread that answered the last of them; undefined before the first. */
  readonly threadId: number | undefined;
}

/** A read sent to the thread, waiting for its answer. */
interface PendingRead {
  resolve(result: ReadResult): void;
  reject(error: unknown): void;
}

/**
 * See the file comment. The thread starts with the first read (many stores
 * never read behind their cache, and a thread costs a heap of its own), is
 * unreferenced while no read is pending (it never keeps the process alive),
 * is started again after a crash, and stops in `close()`.
 */
export class BacklogReader {
  readonly #data: BacklogWorkerData;
  readonly #pending = new Map<number, PendingRead>();
  readonly #onLost: (error: Error) => void;
  #worker: Worker | undefined;
  #nextId = 1;
  #closed = false;
  #served = 0;
  #threadId: number | undefined;

  /** `onLost` is told when the thread dies (its reads fail; the next read starts another). */
  constructor(path: string, onLost: (error: Error) => void = () => undefined) {
    this.#data = { path };
    this.#onLost = onLost;
  }

  /** Reads like `StorageBackend.read`, in the reader thread. */
  read(afterSequence: bigint, limit: number, matcher: PatternMatcher | undefined): Promise<ReadResult> {
    if (this.#closed) return Promise.reject(new ProtobusError(Code.UNAVAILABLE, "the sqlite store is closed"));
    const worker = this.#worker ?? this.#start();
    const request: BacklogRequest = { id: this.#nextId++, afterSequence, limit, patterns: matcher?.patterns };
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(request.id, { resolve, reject });
      worker.postMessage(request);
    });
  }

  /** See {@link BacklogReadStats}. */
  stats(): BacklogReadStats {
    return { served: this.#served, threadId: this.#threadId };
  }

  /** Fails the pending reads with UNAVAILABLE and stops the thread (its connection closes with it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failPending(new ProtobusError(Code.UNAVAILABLE, "the sqlite store is closed"));
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  #start(): Worker {
    // The script is next to this file in dist/, like every compiled module.
    // The thread's garbage (rows, fetched bodies) dies young: a young
    // generation of 8 MB holds it; the default one, left to grow, kept
    // ~25 MB more resident for nothing.
    const worker = new Worker(new URL("./backlog-reader-worker.js", import.meta.url), {
      workerData: this.#data,
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    worker.unref();
    worker.on("message", (reply: BacklogReply) => this.#answer(reply));
    worker.on("error", (error) => this.#lost(worker, error));
    worker.on("exit", (code) => this.#lost(worker, new Error(`the backlog reader thread exited with code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  #answer(reply: BacklogReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (!reply.ok) {
      pending.reject(sqliteError("read", Object.assign(new Error(reply.message), { code: reply.code })));
      return;
    }
    this.#served += 1;
    this.#threadId = reply.threadId;
    const { buffer, count, types, keys } = reply;
    const views = packedViews(buffer, count);
    const events: StoredEvent[] = new Array<StoredEvent>(count);
    let offset = bodiesOffset(count);
    for (let i = 0; i < count; i++) {
      const length = views.lengths[i] as number;
      const body = new Uint8Array(buffer, offset, length);
      const priority = views.priorities[i] as number;
      // Priority and ordering key as the thread read them; an envelope it could not read is read here when asked.
      const grouping = priority === UNKNOWN_PRIORITY ? undefined : { priority, orderingKey: keys[views.keyIndexes[i] as number] as string };
      events[i] = new StoredEvent(views.sequences[i] as bigint, types[views.typeIndexes[i] as number] as string, body, views.expireTimes[i] as number, undefined, grouping);
      offset += length;
    }
    pending.resolve({ events, scannedTo: reply.scannedTo });
  }

  /** The thread died: its reads fail (UNAVAILABLE, worth a retry) and the next read starts a new one. */
  #lost(worker: Worker, error: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    if (!this.#closed) this.#onLost(error);
    this.#failPending(new ProtobusError(Code.UNAVAILABLE, `sqlite read failed: ${error.message}`, [], { cause: error }));
  }

  #failPending(error: ProtobusError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const read of pending) read.reject(error);
  }
}
