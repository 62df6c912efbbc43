// The cost of tracing on publish: SDK publish → server with OpenTelemetry on
// in both processes (always-on sampler, spans exported over OTLP/HTTP to a
// local receiver) vs off, counting acknowledged events.
import { protobus, ratioAtLeast } from "./sides.mjs";

const shape = { workload: "traced", options: { batch: 100, inflight: 4, subscribe: false } };

export const tracing = {
  name: "tracing",
  title: "SDK publish 100/call, memory store: tracing on (always-on, OTLP export) vs off",
  unit: "events/s",
  requires: ["tracing"],
  target: ratioAtLeast(0.7),
  subject: { ...protobus({ store: "memory", ...shape, label: "protobus, tracing on" }), tracing: true },
  baseline: protobus({ store: "memory", ...shape, label: "protobus, tracing off" }),
};
