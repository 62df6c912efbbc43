/**
 * The protobus extensions of an envelope as plain JSON, shared by the CLI's
 * event printing and the JSON a payload validator sees as the envelope.
 */
import type { Event } from "@protobus/sdk/proto";

/**
 * Copies the set extensions of `event` into `out`, in this order:
 * correlationId, causationId, priority, tags, expireTime (ISO time),
 * orderingKey, traceparent. Empty strings, an unset priority or expiry and
 * no tags are left out.
 */
export function putExtensionsJson(event: Event, out: Record<string, unknown>): void {
  if (event.correlationId !== "") out.correlationId = event.correlationId;
  if (event.causationId !== "") out.causationId = event.causationId;
  if (event.priority !== undefined) out.priority = event.priority;
  if (event.tags.length > 0) out.tags = event.tags;
  if (event.expireTime !== undefined) out.expireTime = event.expireTime.toISOString();
  if (event.orderingKey !== "") out.orderingKey = event.orderingKey;
  if (event.traceparent !== "") out.traceparent = event.traceparent;
}
