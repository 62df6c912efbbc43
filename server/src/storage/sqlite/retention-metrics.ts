/**
 * The sqlite backend's figures on `/metrics` about retention (see
 * `retention.ts`): how many events it deleted, how many bytes the file's
 * pages in use hold (what a byte bound bounds), and the oldest sequence
 * kept, which is where a subscription from `earliest` starts.
 */
import type { BackendMetric } from "../backend.js";
import type { RetentionStats } from "./retention.js";

/** The metrics of a retention whose stats `stats` reads. */
export function retentionMetrics(stats: () => RetentionStats): readonly BackendMetric[] {
  return [
    {
      name: "protobus_sqlite_retention_deleted_events_total",
      help: "Events deleted by retention (--sqlite-max-age, --sqlite-max-bytes).",
      type: "counter",
      read: () => stats().deleted,
    },
    {
      name: "protobus_sqlite_retention_failures_total",
      help: "Retention deletes that failed (the next pass, a second later, tries again).",
      type: "counter",
      read: () => stats().failures,
    },
    {
      name: "protobus_sqlite_used_bytes",
      help: "Bytes of events.db's pages in use, what --sqlite-max-bytes bounds (free pages, reused for new events, are not counted).",
      type: "gauge",
      read: () => stats().usedBytes,
    },
    {
      name: "protobus_sqlite_oldest_sequence",
      help: "The oldest sequence stored (0 when retention is off or the store is empty).",
      type: "gauge",
      read: () => stats().oldestSequence,
    },
  ];
}
