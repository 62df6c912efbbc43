// The cost of schema validation: the same 10-field records published with a
// schema registered for their type (every event checked) and without one
// (only the envelope checked). Protobuf payloads are decoded with the
// registered descriptor; JSON payloads are checked by the compiled JSON
// Schema (ajv).
import { protobus, ratioAtLeast } from "./sides.mjs";

function validated(payloadKind, name, what) {
  const options = { mode: "stream", batch: 100, inflight: 8, payloadKind };
  return {
    name,
    title: `PublishStream 100/msg of a 10-field ${what} record, memory store: schema registered vs none`,
    unit: "events/s",
    requires: ["registry"],
    target: ratioAtLeast(0.8),
    subject: protobus({ store: "memory", workload: "publish", options: { ...options, registerSchema: true }, label: "protobus validated" }),
    baseline: protobus({ store: "memory", workload: "publish", options, label: "protobus unvalidated" }),
  };
}

export const validatedPublish = validated("protobuf", "validated-publish", "Protobuf");
export const validatedJson = validated("json", "validated-json", "JSON");
