// The cost of tracing: SDK publish → server → SDK handler with OpenTelemetry
// on in every process (spans exported over OTLP/HTTP to a local sink) vs off.
import { protobus, ratioAtLeast } from "./sides.mjs";

const shape = { workload: "traced", options: { batch: 100, inflight: 4, budget: 5000 } };

export const tracing = {
  name: "tracing",
  title: "SDK publish 100/call → handler, memory store: tracing on (OTLP export) vs off",
  unit: "events/s",
  requires: ["tracing"],
  target: ratioAtLeast(0.7),
  subject: { ...protobus({ store: "memory", ...shape, label: "protobus, tracing on" }), tracing: true },
  baseline: protobus({ store: "memory", ...shape, label: "protobus, tracing off" }),
};
