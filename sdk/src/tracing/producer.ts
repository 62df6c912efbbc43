/**
 * The PRODUCER side: one `send <type>` span around a publish call, whose
 * context is written into each envelope as W3C `traceparent`/`tracestate`.
 */
import { ROOT_CONTEXT, SpanKind, context, propagation, trace, type Attributes, type Link } from "@opentelemetry/api";
import type { Event } from "../gen/protobus/v1/event.pb.js";
import { Attr, batchAttributes, messageAttributes } from "./attributes.js";
import { envelopeGetter, envelopeSetter } from "./envelope-carrier.js";
import { recordSpanError } from "./span-error.js";
import { activeTracer } from "./tracer.js";

/** What a publish returns per event. */
interface Result {
  readonly id: string;
  readonly sequence: bigint;
}

/**
 * Runs `publish` inside one PRODUCER span when tracing is active, as the
 * OpenTelemetry messaging conventions describe a batch send: the span is a
 * child of the active context, its context becomes the creation context of
 * every event that carries none (written into the envelope), and an event
 * that already carries one (an outbox row, a forwarded event) keeps it and
 * is linked from the span. The server and every consumer continue each
 * event's context, so one call is one trace unless its events brought
 * their own. A batch of one type is `send <type>`, a mixed one `send`;
 * `messaging.message.id` and the sequence are set for a single event. With
 * no tracer provider registered it just calls `publish`.
 */
export async function publishWithSpan(events: readonly Event[], publish: () => Promise<Result[]>): Promise<Result[]> {
  const tracer = activeTracer();
  if (tracer === undefined) return publish();
  const attributes = sendAttributes(events);
  // The attributes name the type when every event has the same one.
  const type = attributes[Attr.destinationName];
  const active = context.active();
  const span = tracer.startSpan(typeof type === "string" ? `send ${type}` : "send", { kind: SpanKind.PRODUCER, attributes, links: creationLinks(events) }, active);
  // Injected once, then copied into each envelope that has no context yet.
  const carrier: Pick<Event, "traceparent" | "tracestate" | "attributes"> = { traceparent: "", tracestate: "", attributes: {} };
  propagation.inject(trace.setSpan(active, span), carrier, envelopeSetter);
  const extra = Object.entries(carrier.attributes);
  for (const event of events) {
    if (event.traceparent !== "") continue;
    event.traceparent = carrier.traceparent;
    event.tracestate = carrier.tracestate;
    for (const [key, value] of extra) event.attributes[key] = value;
  }
  try {
    const results = await publish();
    const only = events.length === 1 ? results[0] : undefined;
    if (only !== undefined) {
      span.setAttribute(Attr.messageId, only.id);
      span.setAttribute(Attr.sequence, Number(only.sequence));
    }
    return results;
  } catch (error) {
    recordSpanError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** The send span's attributes: the event's own for one event, the batch's for several. */
function sendAttributes(events: readonly Event[]): Attributes {
  return events.length === 1 ? messageAttributes(events[0] as Event, SEND) : batchAttributes(events, SEND, events.length);
}

const SEND = { type: "send", name: "send" } as const;

/** Links to the distinct creation contexts the events already carry. */
function creationLinks(events: readonly Event[]): Link[] {
  const links: Link[] = [];
  let seen: Set<string> | undefined;
  for (const event of events) {
    if (event.traceparent === "" || seen?.has(event.traceparent) === true) continue;
    (seen ??= new Set()).add(event.traceparent);
    const linked = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, event, envelopeGetter));
    if (linked !== undefined) links.push({ context: linked });
  }
  return links;
}
