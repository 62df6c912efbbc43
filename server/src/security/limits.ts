/**
 * Rate limits and quotas of one caller: a principal when authentication is
 * on, a connection when it is off. Zero means unlimited.
 */

/** The limits of one caller. */
export interface Limits {
  /** Sustained events published per second. */
  readonly eventsPerSecond: number;
  /** Events published per minute (a second, slower bucket). */
  readonly eventsPerMinute: number;
  /** Events that may be published at once above the per-second rate; 0 means one second's worth. */
  readonly burst: number;
  /** Payload bytes published per second (a burst of one second's worth). */
  readonly bytesPerSecond: number;
  /** Subscriptions open at once. */
  readonly subscriptions: number;
  /** Distinct consumer groups joined at once. */
  readonly groups: number;
}

/** No limit at all. */
export const UNLIMITED: Limits = { eventsPerSecond: 0, eventsPerMinute: 0, burst: 0, bytesPerSecond: 0, subscriptions: 0, groups: 0 };

/** The names limits have in the policy file, flags and errors. */
export const LIMIT_NAMES: Readonly<Record<keyof Limits, string>> = {
  eventsPerSecond: "events-per-second",
  eventsPerMinute: "events-per-minute",
  burst: "burst",
  bytesPerSecond: "bytes-per-second",
  subscriptions: "subscriptions",
  groups: "groups",
};

/** True when any limit is set. */
export function hasLimits(limits: Limits): boolean {
  return Object.values(limits).some((v) => v > 0);
}
