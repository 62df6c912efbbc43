/**
 * The PRODUCER side: a `send <type>` span around a publish, whose context is
 * written into each envelope as W3C `traceparent`/`tracestate`.
 */
import { SpanKind, SpanStatusCode, context, propagation, trace, type Attributes } from "@opentelemetry/api";
import type { Event } from "../gen/protobus/v1/event.pb.js";
import { Attr, MESSAGING_SYSTEM } from "./attributes.js";
import { envelopeSetter } from "./envelope-carrier.js";
import { activeTracer } from "./tracer.js";

/** What a publish returns per event. */
interface Result {
  readonly id: string;
  readonly sequence: bigint;
}

/**
 * Runs `publish` inside a PRODUCER span when tracing is active and injects
 * the span context into every envelope that carries no `traceparent` yet.
 * One span per publish call: a batch of one type is `send <type>`, a mixed
 * batch is `send`. With no tracer provider registered it just calls `publish`.
 */
export async function publishWithSpan(events: readonly Event[], publish: () => Promise<Result[]>): Promise<Result[]> {
  const tracer = activeTracer();
  if (tracer === undefined) return publish();
  const first = events[0] as Event;
  const sameType = events.every((e) => e.type === first.type);
  const attributes: Attributes = {
    [Attr.system]: MESSAGING_SYSTEM,
    [Attr.operationType]: "send",
    [Attr.operationName]: "send",
    [Attr.conversationId]: first.correlationId,
  };
  if (sameType) attributes[Attr.destinationName] = first.type;
  if (events.length === 1) {
    attributes[Attr.bodySize] = first.data.byteLength;
    if (first.id !== "") attributes[Attr.messageId] = first.id;
    if (first.causationId !== "") attributes[Attr.causationId] = first.causationId;
  } else {
    attributes[Attr.batchCount] = events.length;
  }
  const span = tracer.startSpan(sameType ? `send ${first.type}` : "send", { kind: SpanKind.PRODUCER, attributes });
  const spanContext = trace.setSpan(context.active(), span);
  for (const event of events) {
    if (event.traceparent === "") propagation.inject(spanContext, event, envelopeSetter);
  }
  try {
    const results = await publish();
    const only = results.length === 1 ? results[0] : undefined;
    if (only !== undefined) {
      span.setAttribute(Attr.messageId, only.id);
      span.setAttribute(Attr.sequence, Number(only.sequence));
    }
    return results;
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}
