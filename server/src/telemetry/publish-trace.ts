/**
 * Server spans of a publish: one SERVER span `publish <type>` per event,
 * each continuing the trace found in that event's `traceparent` (or, for
 * an event without one, the trace context of the call), with `validate`
 * and `store` children. A batch therefore shows up in the trace of every
 * event it carried, as the OpenTelemetry messaging conventions describe for
 * batches, and not only in the first event's. When no tracer provider is
 * registered nothing is created. Tracing never fails a publish: its own
 * errors are swallowed.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Attributes, type Tracer, type Context, type Span } from "@opentelemetry/api";
import { Attr, messageAttributes, envelopeGetter, tracerSource } from "@protobus/sdk/internal";
import type { Event } from "@protobus/sdk/proto";
import { VERSION } from "../version.js";

const activeTracer = tracerSource("@protobus/server", VERSION);

/** The spans of one publish: one per event of the batch. */
export class PublishTrace {
  readonly #tracer: Tracer;
  readonly #spans: readonly Span[];
  readonly #contexts: readonly Context[];

  private constructor(tracer: Tracer, spans: readonly Span[], contexts: readonly Context[]) {
    this.#tracer = tracer;
    this.#spans = spans;
    this.#contexts = contexts;
  }

  /**
   * Starts one publish span per event, or returns undefined when tracing is
   * off. An event's span continues its `traceparent`, else `callContext`
   * (the trace context the client propagated in the call's metadata), else
   * starts a trace.
   */
  static start(events: readonly Event[], callContext?: Context): PublishTrace | undefined {
    if (events.length === 0) return undefined;
    try {
      const tracer = activeTracer();
      if (tracer === undefined) return undefined;
      const spans: Span[] = [];
      const contexts: Context[] = [];
      for (const event of events) {
        const parent = event.traceparent === "" ? (callContext ?? ROOT_CONTEXT) : propagation.extract(ROOT_CONTEXT, event, envelopeGetter);
        const attributes: Attributes = {
          ...messageAttributes(event, { type: "receive", name: "publish" }, events.length),
          "rpc.system": "grpc",
          "rpc.service": "protobus.v1.EventBus",
        };
        const span = tracer.startSpan(event.type === "" ? "publish" : `publish ${event.type}`, { kind: SpanKind.SERVER, attributes }, parent);
        spans.push(span);
        contexts.push(trace.setSpan(parent, span));
      }
      return new PublishTrace(tracer, spans, contexts);
    } catch {
      return undefined;
    }
  }

  /** Starts a step span (`validate`, `store`) under each event's publish span. */
  step(name: string): readonly Span[] | undefined {
    try {
      return this.#contexts.map((context) => this.#tracer.startSpan(name, { kind: SpanKind.INTERNAL }, context));
    } catch {
      return undefined;
    }
  }

  /** Ends a step's spans, marking them failed when `error` is given. */
  endStep(spans: readonly Span[] | undefined, error?: unknown): void {
    if (spans === undefined) return;
    try {
      for (const span of spans) {
        if (error !== undefined) fail(span, error);
        span.end();
      }
    } catch {
      // Tracing never fails a publish.
    }
  }

  /** Ends the publish spans with the stored results (id and sequence per event) or the error. */
  end(results: readonly { id: string; sequence: bigint }[] | undefined, error?: unknown): void {
    try {
      this.#spans.forEach((span, i) => {
        const result = results?.[i];
        if (result !== undefined) {
          span.setAttribute(Attr.messageId, result.id);
          span.setAttribute(Attr.sequence, Number(result.sequence));
        }
        if (error !== undefined) fail(span, error);
        span.end();
      });
    } catch {
      // Tracing never fails a publish.
    }
  }
}

function fail(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
