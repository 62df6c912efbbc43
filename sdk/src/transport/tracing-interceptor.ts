/**
 * Trace context propagation on calls: the active OpenTelemetry context
 * (the caller's span) is written into each call's metadata as
 * `traceparent`/`tracestate`, which the server's tracing interceptor reads.
 * Without a registered propagator or an active span nothing is added.
 */
import { InterceptingCall, type Interceptor } from "@grpc/grpc-js";
import { context, propagation } from "@opentelemetry/api";
import { metadataSetter } from "../tracing/metadata-carrier.js";

/** A grpc-js client interceptor propagating the active trace context. */
export function tracingInterceptor(): Interceptor {
  return (options, nextCall) => {
    // Read when the call is made, in the caller's context.
    const active = context.active();
    return new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (metadata.get("traceparent").length === 0) propagation.inject(active, metadata, metadataSetter);
        next(metadata, listener);
      },
    });
  };
}
