// The cost of schema validation: the same JSON events published with a
// JSON Schema registered for their type (every event checked by ajv) and
// without one.
import { protobus, ratioAtLeast } from "./sides.mjs";

const shape = { workload: "publish", options: { mode: "stream", batch: 100, inflight: 8, json: true } };

export const validatedPublish = {
  name: "validated-publish",
  title: "PublishStream 100/msg, JSON payload, memory store: with a registered JSON Schema vs without",
  unit: "events/s",
  requires: ["registry"],
  target: ratioAtLeast(0.8),
  subject: protobus({ store: "memory", ...shape, options: { ...shape.options, registerSchema: true }, label: "protobus validated" }),
  baseline: protobus({ store: "memory", ...shape, label: "protobus unvalidated" }),
};
