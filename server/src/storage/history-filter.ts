import type { HistoryQuery } from "./backend.js";
import type { StoredEvent } from "./stored-event.js";

/**
 * Tells whether a stored event meets every criterion of a history query but
 * the sequence bound, for backends that filter in process.
 */
export function matchesHistoryQuery(stored: StoredEvent, query: HistoryQuery): boolean {
  if (query.matcher !== undefined && !query.matcher.matches(stored.type)) return false;
  const needsEnvelope =
    query.source !== undefined ||
    query.correlationId !== undefined ||
    (query.tags !== undefined && query.tags.length > 0) ||
    query.fromTime !== undefined ||
    query.toTime !== undefined;
  // The type was enough: no decoding.
  if (!needsEnvelope) return true;
  const event = stored.event;
  if (query.source !== undefined && event.source !== query.source) return false;
  if (query.correlationId !== undefined && event.correlationId !== query.correlationId) return false;
  if (query.tags !== undefined && query.tags.length > 0 && !query.tags.every((tag) => event.tags.includes(tag))) return false;
  const published = event.publishTime?.getTime() ?? 0;
  if (query.fromTime !== undefined && published < query.fromTime.getTime()) return false;
  if (query.toTime !== undefined && published >= query.toTime.getTime()) return false;
  return true;
}
