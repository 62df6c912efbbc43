/**
 * Automatic correlation: inside a handler, published events join the handled
 * event's flow (same correlation id, causation id = the handled event's id);
 * outside a handler, each publish call starts a new flow unless the caller
 * names one.
 */
import { randomUUID } from "node:crypto";
import type { Event } from "../gen/protobus/v1/event.pb.js";
import { currentHandledEvent } from "./handler-context.js";

/**
 * Fills `correlationId` and `causationId` of envelopes that leave them empty.
 * Values the caller set are kept. Mutates and returns `events`.
 */
export function applyCorrelation(events: Event[]): Event[] {
  const handled = currentHandledEvent();
  let fresh: string | undefined;
  for (const event of events) {
    if (handled !== undefined) {
      if (event.correlationId === "") event.correlationId = handled.correlationId !== "" ? handled.correlationId : handled.id;
      if (event.causationId === "") event.causationId = handled.id;
    } else if (event.correlationId === "") {
      // One publish call is one action: a batch shares its new flow.
      fresh ??= randomUUID();
      event.correlationId = fresh;
    }
  }
  return events;
}
