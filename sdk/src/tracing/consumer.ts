/**
 * The CONSUMER side: a handler runs inside a `process <type>` span whose
 * parent is the producer context found in the envelope (or, by option, a new
 * root with a link to it), and inside the handler context that makes its
 * publishes inherit the flow.
 */
import { ROOT_CONTEXT, SpanKind, context, propagation, trace, type Attributes, type SpanOptions } from "@opentelemetry/api";
import type { Event } from "../gen/protobus/v1/event.pb.js";
import { Attr, messageAttributes } from "./attributes.js";
import { envelopeGetter } from "./envelope-carrier.js";
import { runInHandler } from "./handler-context.js";
import { recordSpanError } from "./span-error.js";
import { activeTracer } from "./tracer.js";

/**
 * How a consumer span relates to the producer: `child` (the default) makes
 * it a child in the producer's trace, so one trace shows the whole causal
 * flow; `link` starts a new trace whose root links to the producer, for
 * fan-out-heavy consumers that want one trace per handling.
 */
export type ConsumerSpanRelation = "child" | "link";

/** Where a handled event came from. */
export interface ConsumeInfo {
  /** 1 on first delivery. */
  readonly attempt: number;
  /** The consumer group; empty for a broadcast subscription. */
  readonly group: string;
  /** The subscription id. */
  readonly subscriptionId: string;
  /** How the span relates to the producer. */
  readonly relation: ConsumerSpanRelation;
}

/**
 * Runs `handle` as the handling of `event`: inside the handler context
 * (automatic correlation) and, when tracing is active, inside a CONSUMER
 * span that records failures.
 */
export async function runHandler<T>(event: Event, info: ConsumeInfo, handle: () => T | Promise<T>): Promise<T> {
  const handled = { id: event.id, correlationId: event.correlationId };
  const tracer = activeTracer();
  if (tracer === undefined) return runInHandler(handled, handle);
  const producer = propagation.extract(ROOT_CONTEXT, event, envelopeGetter);
  const attributes: Attributes = {
    ...messageAttributes(event, { type: "process", name: "process" }),
    [Attr.deliveryAttempt]: info.attempt,
    [Attr.sequence]: Number(event.sequence),
  };
  if (info.group !== "") attributes[Attr.consumerGroup] = info.group;
  if (info.subscriptionId !== "") attributes[Attr.subscriptionId] = info.subscriptionId;
  const options: SpanOptions = { kind: SpanKind.CONSUMER, attributes };
  const producerSpan = trace.getSpanContext(producer);
  let parent = producer;
  if (info.relation === "link") {
    options.root = true;
    if (producerSpan !== undefined) options.links = [{ context: producerSpan }];
    parent = ROOT_CONTEXT;
  }
  const span = tracer.startSpan(`process ${event.type}`, options, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => runInHandler(handled, handle));
  } catch (error) {
    recordSpanError(span, error);
    throw error;
  } finally {
    span.end();
  }
}
