/**
 * Server spans of a publish: one SERVER span `publish <type>` per distinct
 * trace context among the call's events, with `validate` and `store`
 * children. An event's trace context is its `traceparent` (with
 * `tracestate`), else the trace context of the call, else none (the span
 * starts a trace). The SDK gives all events of one publish call the context
 * of its one `send` span, so an SDK batch costs three spans whatever its
 * size; a batch whose events carry different contexts (a raw client, a
 * stream of single-event SDK publishes) gets one span, and its steps, in
 * each of those traces, so every event's trace still shows the server.
 * This follows the OpenTelemetry messaging conventions for batches: one
 * span per batch operation, continuing the messages' creation context.
 * When no tracer provider is registered nothing is created. Tracing never
 * fails a publish: its own errors are swallowed.
 */
import { ROOT_CONTEXT, SpanKind, propagation, trace, type Attributes, type Tracer, type Context, type Span } from "@opentelemetry/api";
import { Attr, batchAttributes, messageAttributes, envelopeGetter, recordSpanError, tracerSource } from "@protobus/sdk/internal";
import type { Event } from "@protobus/sdk/proto";
import { VERSION } from "../version.js";

const activeTracer = tracerSource("@protobus/server", VERSION);

/** The events of one call that share a trace context, and the span they get. */
interface ContextGroup {
  readonly parent: Context;
  /** Indexes into the call's events; undefined when the group is all of them (an SDK batch). */
  readonly indexes: readonly number[] | undefined;
}

/** One publish span of a call, with the context its step spans start in. */
interface PublishSpan {
  readonly span: Span;
  readonly context: Context;
  /** The event's index when the span is about one event only. */
  readonly only: number | undefined;
}

/** The spans of one publish call: one per distinct trace context of its events. */
export class PublishTrace {
  readonly #tracer: Tracer;
  readonly #spans: readonly PublishSpan[];

  private constructor(tracer: Tracer, spans: readonly PublishSpan[]) {
    this.#tracer = tracer;
    this.#spans = spans;
  }

  /**
   * Starts one publish span per distinct trace context of `events`, or
   * returns undefined when tracing is off. Events with the same
   * `traceparent` and `tracestate` share a span, which continues that
   * context; events without one share a span continuing `callContext`
   * (the trace context the client propagated in the call's metadata), or
   * starting a trace.
   */
  static start(events: readonly Event[], callContext?: Context): PublishTrace | undefined {
    if (events.length === 0) return undefined;
    try {
      const tracer = activeTracer();
      if (tracer === undefined) return undefined;
      const spans: PublishSpan[] = [];
      for (const group of groupByContext(events, callContext)) {
        const members = group.indexes === undefined ? events : group.indexes.map((i) => events[i] as Event);
        const attributes = groupAttributes(members, events.length);
        const span = tracer.startSpan(spanName(attributes), { kind: SpanKind.SERVER, attributes }, group.parent);
        const only = members.length !== 1 ? undefined : (group.indexes?.[0] ?? 0);
        spans.push({ span, context: trace.setSpan(group.parent, span), only });
      }
      return new PublishTrace(tracer, spans);
    } catch {
      return undefined;
    }
  }

  /** Starts a step span (`validate`, `store`) under each publish span. */
  step(name: string): readonly Span[] | undefined {
    try {
      return this.#spans.map((publish) => this.#tracer.startSpan(name, { kind: SpanKind.INTERNAL }, publish.context));
    } catch {
      return undefined;
    }
  }

  /** Ends a step's spans, marking them failed when `error` is given. */
  endStep(spans: readonly Span[] | undefined, error?: unknown): void {
    if (spans === undefined) return;
    try {
      for (const span of spans) {
        if (error !== undefined) recordSpanError(span, error);
        span.end();
      }
    } catch {
      // Tracing never fails a publish.
    }
  }

  /**
   * Ends the publish spans with the stored results or the error. A span
   * about one event gets its id and sequence; a span about several does
   * not (the messaging conventions keep `messaging.message.*` to spans of
   * one message; each event's own trace context is in its envelope).
   */
  end(results: readonly { id: string; sequence: bigint }[] | undefined, error?: unknown): void {
    try {
      for (const { span, only } of this.#spans) {
        const result = only === undefined ? undefined : results?.[only];
        if (result !== undefined) {
          span.setAttribute(Attr.messageId, result.id);
          span.setAttribute(Attr.sequence, Number(result.sequence));
        }
        if (error !== undefined) recordSpanError(span, error);
        span.end();
      }
    } catch {
      // Tracing never fails a publish.
    }
  }
}

/**
 * The call's events grouped by trace context, in order of first
 * appearance. The `traceparent` is compared as text: the server refused
 * any that is not W3C trace context before this runs, and the common case
 * (an SDK batch) is one group, extracted once.
 */
function groupByContext(events: readonly Event[], callContext: Context | undefined): ContextGroup[] {
  const first = events[0] as Event;
  if (events.every((e) => e.traceparent === first.traceparent && e.tracestate === first.tracestate)) {
    return [{ parent: contextOf(first, callContext), indexes: undefined }];
  }
  const groups = new Map<string, { parent: Context; indexes: number[] }>();
  events.forEach((event, i) => {
    const key = `${event.traceparent} ${event.tracestate}`;
    const group = groups.get(key);
    if (group !== undefined) group.indexes.push(i);
    else groups.set(key, { parent: contextOf(event, callContext), indexes: [i] });
  });
  return [...groups.values()];
}

/** The trace context an event continues. */
function contextOf(event: Event, callContext: Context | undefined): Context {
  return event.traceparent === "" ? (callContext ?? ROOT_CONTEXT) : propagation.extract(ROOT_CONTEXT, event, envelopeGetter);
}

/** `publish <type>` when the span's events share a type (the attributes name it then), else `publish`. */
function spanName(attributes: Attributes): string {
  const type = attributes[Attr.destinationName];
  return typeof type === "string" ? `publish ${type}` : "publish";
}

/**
 * The attributes of a publish span about `members`: an event's own when
 * the span is about one event; for several, what they share
 * (`batchAttributes`). `messaging.batch.message_count` is the size of the
 * call, `callSize`.
 */
function groupAttributes(members: readonly Event[], callSize: number): Attributes {
  const attributes = members.length === 1 ? messageAttributes(members[0] as Event, PUBLISH, callSize) : batchAttributes(members, PUBLISH, callSize);
  attributes["rpc.system"] = "grpc";
  attributes["rpc.service"] = "protobus.v1.EventBus";
  return attributes;
}

const PUBLISH = { type: "receive", name: "publish" } as const;
