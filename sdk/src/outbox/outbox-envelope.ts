/**
 * What an outbox stores per event: the complete envelope, built when the
 * business transaction writes it, so that the relay publishes exactly what
 * was committed. The id is assigned here (the server deduplicates a
 * republished row by it), and correlation and trace context come from the
 * writer's context (a handled event's flow, the active span).
 */
import { context, propagation } from "@opentelemetry/api";
import { toEnvelope, type EventInput } from "../event-input.js";
import { newEventId } from "../event-id.js";
import { Event } from "../gen/protobus/v1/event.pb.js";
import { applyCorrelation } from "../tracing/correlation.js";
import { envelopeSetter } from "../tracing/envelope-carrier.js";

/** One event as an outbox row holds it. */
export interface OutboxEnvelope {
  readonly id: string;
  readonly type: string;
  readonly orderingKey: string;
  /** The encoded `protobus.v1.Event`. */
  readonly bytes: Uint8Array;
}

/**
 * Builds the envelopes of one write: ids, the default source, correlation
 * (events written together share a new flow unless inside a handler or
 * named) and the active trace context.
 */
export function outboxEnvelopes(inputs: readonly EventInput[], source: string): OutboxEnvelope[] {
  const events = applyCorrelation(inputs.map((input) => toEnvelope(input, { source })));
  const active = context.active();
  return events.map((event) => {
    if (event.id === "") event.id = newEventId();
    if (event.traceparent === "") propagation.inject(active, event, envelopeSetter);
    return { id: event.id, type: event.type, orderingKey: event.orderingKey, bytes: Event.encode(event).finish() };
  });
}

/** Decodes a stored envelope. */
export function decodeOutboxEnvelope(bytes: Uint8Array): Event {
  return Event.decode(bytes);
}
