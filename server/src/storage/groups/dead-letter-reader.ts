/**
 * Reads a group's dead letters: the records from its persistence, the
 * events from the event source, in sequence order. Shared by a running
 * group's engine and a broken group (whose dead letters stay readable).
 */
import { compilePatterns } from "@protobus/sdk/internal";
import type { DeadLetter, DeadLetterQuery } from "../group-store.js";
import type { EventSource } from "./event-source.js";
import type { GroupPersistence } from "./group-persistence.js";

/** Dead letters of group `name` that `query` selects, in sequence order. */
export async function readDeadLetters(
  persistence: GroupPersistence,
  source: EventSource,
  name: string,
  query: DeadLetterQuery,
): Promise<DeadLetter[]> {
  const matcher = query.patterns !== undefined && query.patterns.length > 0 ? compilePatterns(query.patterns) : undefined;
  const out: DeadLetter[] = [];
  let after = Number(query.afterSequence);
  while (out.length < query.limit) {
    const records = persistence.listDead(name, after, Math.max(query.limit, 100));
    if (records.length === 0) break;
    const events = await source.readSequences(records.map((r) => r.sequence));
    const bySeq = new Map(events.map((e) => [Number(e.sequence), e]));
    for (const record of records) {
      after = record.sequence;
      const stored = bySeq.get(record.sequence);
      if (stored === undefined || (matcher !== undefined && !matcher.matches(stored.type))) continue;
      out.push({ stored, attempts: record.attempts, reason: record.reason, deadAt: new Date(record.deadAt) });
      if (out.length >= query.limit) break;
    }
  }
  return out;
}
