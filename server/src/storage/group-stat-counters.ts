/**
 * The counters of a group's stats, named once: the gRPC `GroupInfo` and the
 * forwarded stats between servers carry each of them as a 64-bit integer.
 */
import type { GroupStats } from "./group-store.js";

/** The counter fields of {@link GroupStats} that travel as 64-bit integers, in the order the messages declare them. */
export const GROUP_STAT_COUNTERS = ["backlog", "inFlight", "deadLetters", "delivered", "redelivered", "acked", "nacked", "deadLettered", "expired"] as const;

/** One of {@link GROUP_STAT_COUNTERS}. */
export type GroupStatCounter = (typeof GROUP_STAT_COUNTERS)[number];

/** The counters of `stats` as 64-bit integers. */
export function countersToWire(stats: GroupStats): Record<GroupStatCounter, bigint> {
  const out = {} as Record<GroupStatCounter, bigint>;
  for (const key of GROUP_STAT_COUNTERS) out[key] = BigInt(stats[key]);
  return out;
}

/** The counters of a message that carries them as 64-bit integers, as numbers. */
export function countersFromWire(wire: Readonly<Record<GroupStatCounter, bigint>>): Record<GroupStatCounter, number> {
  const out = {} as Record<GroupStatCounter, number>;
  for (const key of GROUP_STAT_COUNTERS) out[key] = Number(wire[key]);
  return out;
}
