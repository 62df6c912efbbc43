/**
 * The sqlite backend's figures on `/metrics`: what its checkpointer thread
 * did, how large the WAL was, and how long it held commits so that the WAL
 * could restart (see `checkpointer.ts`). While commits are held every
 * publish waits, so the held time is a latency an operator can see: at
 * 2,000 one-event commits a second a hold came about every second and
 * lasted a few ms (fsyncs).
 */
import type { BackendMetric } from "../backend.js";
import { RESTART_FRAMES, type CheckpointStats } from "./checkpointer.js";

/** The metrics of a checkpointer whose stats `stats` reads. */
export function checkpointMetrics(stats: () => CheckpointStats): readonly BackendMetric[] {
  return [
    {
      name: "protobus_sqlite_checkpoints_total",
      help: "WAL checkpoints the checkpointer thread completed.",
      type: "counter",
      read: () => stats().checkpoints,
    },
    {
      name: "protobus_sqlite_checkpoint_failures_total",
      help: "WAL checkpoints that failed (the writer's own checkpoint still bounds the WAL).",
      type: "counter",
      read: () => stats().failures,
    },
    {
      name: "protobus_sqlite_commit_holds_total",
      help: "Times commits were held for a checkpoint that lets the WAL restart.",
      type: "counter",
      read: () => stats().holds,
    },
    {
      name: "protobus_sqlite_commit_held_seconds_total",
      help: "Time commits were held for those checkpoints, in all; publishes wait meanwhile.",
      type: "counter",
      read: () => stats().heldMs / 1000,
    },
    {
      name: "protobus_sqlite_wal_frames",
      help: `Pages the WAL held when the last checkpoint ended (a hold restarts it past ${RESTART_FRAMES}).`,
      type: "gauge",
      read: () => stats().walFrames,
    },
  ];
}
