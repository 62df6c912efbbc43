/**
 * The checkpointer thread: copies the WAL back into the database file
 * (`PRAGMA wal_checkpoint(PASSIVE)`) on its own connection whenever the
 * main thread asks, so that the server's thread never does that I/O and
 * its fsyncs. A passive checkpoint never waits for and never blocks the
 * writer; it copies what no reader still needs and reports how far it got.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import type { CheckpointReply, CheckpointerWorkerData } from "./checkpointer.js";

if (parentPort === null) throw new Error("the checkpointer runs as a worker thread");
const port = parentPort;
const { path, synchronous } = workerData as CheckpointerWorkerData;
/** Opened on the first request; a failed open is tried again by the next one. */
let db: Database.Database | undefined;

port.on("message", () => {
  let reply: CheckpointReply;
  try {
    if (db === undefined) {
      db = new Database(path, { fileMustExist: true });
      db.pragma(`synchronous = ${synchronous}`);
      db.pragma("busy_timeout = 0");
      // This connection writes nothing; it must never checkpoint on its own schedule either.
      db.pragma("wal_autocheckpoint = 0");
    }
    const [result] = db.pragma("wal_checkpoint(PASSIVE)") as Array<{ busy: number; log: number; checkpointed: number }>;
    reply = { ok: true, busy: result?.busy === 1, walFrames: result?.log ?? 0, checkpointedFrames: result?.checkpointed ?? 0 };
  } catch (error) {
    reply = { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
