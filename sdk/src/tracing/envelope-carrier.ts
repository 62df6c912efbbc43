/**
 * The envelope as a W3C trace-context carrier: `traceparent` and
 * `tracestate` are envelope fields; any other propagated key (e.g.
 * `baggage`) goes into the free `attributes` map.
 */
import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";
import type { Event } from "../gen/protobus/v1/event.pb.js";

type Carrier = Pick<Event, "traceparent" | "tracestate" | "attributes">;

/** Writes propagation fields into an envelope. */
export const envelopeSetter: TextMapSetter<Carrier> = {
  set(carrier, key, value) {
    if (key === "traceparent") carrier.traceparent = value;
    else if (key === "tracestate") carrier.tracestate = value;
    else carrier.attributes[key] = value;
  },
};

/** Reads propagation fields from an envelope. */
export const envelopeGetter: TextMapGetter<Carrier> = {
  keys(carrier) {
    return ["traceparent", "tracestate", ...Object.keys(carrier.attributes)];
  },
  get(carrier, key) {
    if (key === "traceparent") return carrier.traceparent === "" ? undefined : carrier.traceparent;
    if (key === "tracestate") return carrier.tracestate === "" ? undefined : carrier.tracestate;
    return carrier.attributes[key];
  },
};
