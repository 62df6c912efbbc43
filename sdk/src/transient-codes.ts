/**
 * The statuses after which sending the same events again can succeed: what
 * the batching publisher retries and counts against its circuit breaker
 * (but RESOURCE_EXHAUSTED: a busy server, not a failing one), and what the
 * outbox relay leaves in its table for a later round.
 */
import { Code } from "./protobus-error.js";

/** Statuses after which sending the same events again can succeed. */
export const TRANSIENT_CODES: ReadonlySet<Code> = new Set<Code>([
  Code.UNAVAILABLE,
  Code.INTERNAL,
  Code.UNKNOWN,
  Code.ABORTED,
  Code.CANCELLED,
  Code.DEADLINE_EXCEEDED,
  Code.RESOURCE_EXHAUSTED,
]);
