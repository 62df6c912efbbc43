/**
 * Trace context extraction: a client that propagates W3C trace context in
 * the request metadata (`traceparent`, `tracestate`, as the SDK's tracing
 * interceptor does) has it read into `ctx.traceContext`, the parent of the
 * spans the bus starts for the call when an event carries no `traceparent`
 * of its own.
 */
import type { Metadata } from "@grpc/grpc-js";
import { ROOT_CONTEXT, propagation, type TextMapGetter } from "@opentelemetry/api";
import type { Interceptor } from "../interceptor.js";

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key).filter((v): v is string => typeof v === "string");
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

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
