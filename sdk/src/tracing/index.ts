/**
 * Tracing and automatic correlation of the SDK, built on
 * @opentelemetry/api only: register any OpenTelemetry SDK in the
 * application to record the spans.
 */
export { Attr, MESSAGING_SYSTEM, batchAttributes, messageAttributes, type MessageFields } from "./attributes.js";
export { applyCorrelation } from "./correlation.js";
export { runHandler } from "./consumer.js";
export type { ConsumeInfo, ConsumerSpanRelation } from "./consumer.js";
export { envelopeGetter, envelopeSetter } from "./envelope-carrier.js";
export { currentHandledEvent, runInHandler } from "./handler-context.js";
export type { HandledEvent } from "./handler-context.js";
export { publishWithSpan } from "./producer.js";
export { recordSpanError } from "./span-error.js";
export { TRACER_NAME, TRACER_VERSION, activeTracer, tracerSource, tracingActive } from "./tracer.js";
