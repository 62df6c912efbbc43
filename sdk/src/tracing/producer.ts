/**
 * The PRODUCER side: a `send <type>` span around a publish, whose context is
 * written into each envelope as W3C `traceparent`/`tracestate`.
 */
import { SpanKind, SpanStatusCode, context, propagation, trace } from "@opentelemetry/api";
import type { Event } from "../gen/protobus/v1/event.pb.js";
import { Attr, messageAttributes } from "./attributes.js";
import { envelopeGetter, envelopeSetter } from "./envelope-carrier.js";
import { activeTracer } from "./tracer.js";

/** What a publish returns per event. */
interface Result {
  readonly id: string;
  readonly sequence: bigint;
}

/**
 * Runs `publish` with one PRODUCER span `send <type>` per event when
 * tracing is active, each injected into its own envelope (an envelope that
 * already carries a `traceparent` keeps it, and its span continues that
 * trace), so that every event of a batch starts a trace of its own that
 * the server, and every consumer, continue. With no tracer provider
 * registered it just calls `publish`.
 */
export async function publishWithSpan(events: readonly Event[], publish: () => Promise<Result[]>): Promise<Result[]> {
  const tracer = activeTracer();
  if (tracer === undefined) return publish();
  const active = context.active();
  const spans = events.map((event) => {
    const attributes = messageAttributes(event, { type: "send", name: "send" }, events.length);
    const parent = event.traceparent === "" ? active : propagation.extract(active, event, envelopeGetter);
    const span = tracer.startSpan(event.type === "" ? "send" : `send ${event.type}`, { kind: SpanKind.PRODUCER, attributes }, parent);
    propagation.inject(trace.setSpan(parent, span), event, envelopeSetter);
    return span;
  });
  try {
    const results = await publish();
    spans.forEach((span, i) => {
      const result = results[i];
      if (result === undefined) return;
      span.setAttribute(Attr.messageId, result.id);
      span.setAttribute(Attr.sequence, Number(result.sequence));
    });
    return results;
  } catch (error) {
    for (const span of spans) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    throw error;
  } finally {
    for (const span of spans) span.end();
  }
}
