/**
 * gRPC metadata as a W3C trace-context carrier: the SDK's tracing
 * interceptor writes `traceparent`/`tracestate` into a call's metadata, the
 * server's tracing interceptor reads them back.
 */
import type { Metadata } from "@grpc/grpc-js";
import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";

/** Writes propagation fields into request metadata. */
export const metadataSetter: TextMapSetter<Metadata> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/** Reads propagation fields from request metadata (text values only). */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get(carrier, key) {
    const values = carrier.get(key).filter((v): v is string => typeof v === "string");
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};
