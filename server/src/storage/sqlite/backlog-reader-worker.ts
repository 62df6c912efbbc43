/**
 * The backlog reader thread: answers the main thread's reads of events
 * behind the recent cache from its own read-only connection, and between
 * requests reads ahead of the last one, so that the next read of a reader
 * paging through the backlog is usually answered from memory.
 */
import { parentPort, threadId, workerData } from "node:worker_threads";
import type { BacklogReply, BacklogRequest, BacklogWorkerData } from "./backlog-protocol.js";
import { BacklogRows } from "./backlog-rows.js";

if (parentPort === null) throw new Error("the backlog reader runs as a worker thread");
const port = parentPort;
const { path } = workerData as BacklogWorkerData;
/** Opened on the first request; a failed open is tried again by the next one. */
let rows: BacklogRows | undefined;
let readAheadScheduled = false;

port.on("message", (request: BacklogRequest) => {
  try {
    rows ??= new BacklogRows(path);
    const read = rows.read(request.afterSequence, request.limit, request.patterns);
    const reply: BacklogReply = { id: request.id, ok: true, ...read, threadId };
    port.postMessage(reply, [read.buffer]);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const reply: BacklogReply = {
      id: request.id,
      ok: false,
      message: error instanceof Error ? error.message : String(error),
      code: typeof code === "string" ? code : undefined,
    };
    port.postMessage(reply);
  }
  scheduleReadAhead();
});

/** One fetch per turn of the event loop, so that a request arriving meanwhile waits for one fetch at most. */
function scheduleReadAhead(): void {
  if (readAheadScheduled) return;
  readAheadScheduled = true;
  setImmediate(() => {
    readAheadScheduled = false;
    let more = false;
    try {
      more = rows?.readAhead() ?? false;
    } catch {
      // Reading ahead is a guess; the next request meets the error itself and reports it.
    }
    if (more) scheduleReadAhead();
  });
}
