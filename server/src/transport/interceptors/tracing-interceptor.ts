/**
 * Trace context extraction: a client that propagates W3C trace context in
 * the request metadata (`traceparent`, `tracestate`, as the SDK's tracing
 * interceptor does) has it read into `ctx.traceContext`, the parent of the
 * spans the bus starts for the call when an event carries no `traceparent`
 * of its own.
 */
import { ROOT_CONTEXT, propagation } from "@opentelemetry/api";
import { metadataGetter } from "@protobus/sdk/internal";
import type { Interceptor } from "../interceptor.js";

/** An interceptor setting `ctx.traceContext` from the request metadata. */
export function tracingInterceptor(): Interceptor {
  return {
    name: "tracing",
    onCall(ctx) {
      if (ctx.metadata.get("traceparent").length === 0) return;
      ctx.traceContext = propagation.extract(ROOT_CONTEXT, ctx.metadata, metadataGetter);
    },
  };
}
