/**
 * Server spans of a publish: a SERVER span continuing the trace found in the
 * envelope's `traceparent` (other traces of a batch become links), with
 * `validate` and `store` children. When no tracer provider is registered
 * nothing is created. Tracing never fails a publish: its own errors are
 * swallowed.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  propagation,
  trace,
  type Attributes,
  type Tracer,
  type Context,
  type Link,
  type Span,
} from "@opentelemetry/api";
import { Attr, MESSAGING_SYSTEM, envelopeGetter, tracerSource } from "@protobus/sdk/internal";
import type { Event } from "@protobus/sdk/proto";
import { VERSION } from "../version.js";

const activeTracer = tracerSource("@protobus/server", VERSION);
const MAX_LINKS = 32;

/** The spans of one publish. */
export class PublishTrace {
  readonly #tracer: Tracer;
  readonly #span: Span;
  readonly #context: Context;

  private constructor(tracer: Tracer, span: Span, context: Context) {
    this.#tracer = tracer;
    this.#span = span;
    this.#context = context;
  }

  /**
   * Starts the publish span, or returns undefined when tracing is off. Its
   * parent is the first event's `traceparent`, else `callContext` (the trace
   * context the client propagated in the call's metadata), else none.
   */
  static start(events: readonly Event[], callContext?: Context): PublishTrace | undefined {
    if (events.length === 0) return undefined;
    try {
      const tracer = activeTracer();
      if (tracer === undefined) return undefined;
      const first = events[0] as Event;
      const parent =
        first.traceparent === "" ? (callContext ?? ROOT_CONTEXT) : propagation.extract(ROOT_CONTEXT, first, envelopeGetter);
      const parentTrace = trace.getSpanContext(parent)?.traceId;
      const links: Link[] = [];
      for (let i = 1; i < events.length && links.length < MAX_LINKS; i++) {
        const event = events[i] as Event;
        if (event.traceparent === "" || event.traceparent === first.traceparent) continue;
        const linked = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, event, envelopeGetter));
        if (linked !== undefined && linked.traceId !== parentTrace) links.push({ context: linked });
      }
      const sameType = events.every((e) => e.type === first.type);
      const attributes: Attributes = {
        [Attr.system]: MESSAGING_SYSTEM,
        [Attr.operationType]: "receive",
        [Attr.operationName]: "publish",
        [Attr.conversationId]: first.correlationId,
        "rpc.system": "grpc",
        "rpc.service": "protobus.v1.EventBus",
      };
      if (sameType) attributes[Attr.destinationName] = first.type;
      if (events.length === 1) {
        if (first.id !== "") attributes[Attr.messageId] = first.id;
        attributes[Attr.bodySize] = first.data.byteLength;
      } else {
        attributes[Attr.batchCount] = events.length;
      }
      const span = tracer.startSpan(sameType ? `publish ${first.type}` : "publish", { kind: SpanKind.SERVER, attributes, links }, parent);
      return new PublishTrace(tracer, span, trace.setSpan(parent, span));
    } catch {
      return undefined;
    }
  }

  /** Starts a child step span (`validate`, `store`). */
  step(name: string): Span | undefined {
    try {
      return this.#tracer.startSpan(name, { kind: SpanKind.INTERNAL }, this.#context);
    } catch {
      return undefined;
    }
  }

  /** Ends a step span, marking it failed when `error` is given. */
  endStep(span: Span | undefined, error?: unknown): void {
    if (span === undefined) return;
    try {
      if (error !== undefined) fail(span, error);
      span.end();
    } catch {
      // Tracing never fails a publish.
    }
  }

  /** Ends the publish span with the stored results or the error. */
  end(results: readonly { id: string; sequence: bigint }[] | undefined, error?: unknown): void {
    try {
      const only = results?.length === 1 ? results[0] : undefined;
      if (only !== undefined) {
        this.#span.setAttribute(Attr.messageId, only.id);
        this.#span.setAttribute(Attr.sequence, Number(only.sequence));
      }
      if (error !== undefined) fail(this.#span, error);
      this.#span.end();
    } catch {
      // Tracing never fails a publish.
    }
  }
}

function fail(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
