// The one event shape every scenario and baseline sends, so that protobus
// and the raw baselines move the same bytes.

/** Event type of benchmark events; subscriptions use `bench.>`. */
export const EVENT_TYPE = "bench.event.created";
/** Pattern matching every benchmark event. */
export const EVENT_PATTERN = "bench.>";
/** Source of benchmark events. */
export const EVENT_SOURCE = "bench/loadgen";
/** Payload size in bytes (a small JSON-sized record). */
export const PAYLOAD_BYTES = 128;

/** A payload of PAYLOAD_BYTES bytes. */
export function payload() {
  const data = Buffer.alloc(PAYLOAD_BYTES);
  for (let i = 0; i < data.length; i++) data[i] = 97 + (i % 26);
  return data;
}

/** A JSON payload of about PAYLOAD_BYTES bytes that BENCH_JSON_SCHEMA accepts. */
export function jsonPayload() {
  return Buffer.from(
    JSON.stringify({ taskId: "t-000001", title: "summarize the quarterly report for the planner", priority: 2, tags: ["bench", "load"] }),
  );
}

/** A JSON Schema for the benchmark event, with the usual kinds of constraint. */
export const BENCH_JSON_SCHEMA = {
  type: "object",
  required: ["taskId", "title"],
  properties: {
    taskId: { type: "string", pattern: "^t-[0-9]+$" },
    title: { type: "string", minLength: 1, maxLength: 200 },
    priority: { type: "integer", minimum: 0, maximum: 9 },
    tags: { type: "array", items: { type: "string" }, maxItems: 16 },
  },
  additionalProperties: false,
};

/** A wire envelope (`protobus.v1.Event`) as the SDK would build it. */
export function wireEvent(data = payload(), dataContentType = "application/octet-stream") {
  return {
    id: "",
    source: EVENT_SOURCE,
    type: EVENT_TYPE,
    specVersion: "",
    time: new Date(),
    subject: "",
    dataContentType,
    dataSchema: "",
    data,
    correlationId: "",
    causationId: "",
    priority: undefined,
    tags: [],
    expireTime: undefined,
    orderingKey: "",
    traceparent: "",
    tracestate: "",
    attributes: {},
    sequence: 0n,
    publishTime: undefined,
    schemaVersion: 0,
  };
}

/** A batch of `size` wire envelopes, with a binary or (`json`) a JSON payload. */
export function wireBatch(size, json = false) {
  const data = json ? jsonPayload() : payload();
  const contentType = json ? "application/json" : "application/octet-stream";
  return Array.from({ length: size }, () => wireEvent(data, contentType));
}
