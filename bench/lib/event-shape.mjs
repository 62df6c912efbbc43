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

// The validated-publish scenarios publish a 10-field record, as the
// registry issue names it: the same fields as JSON (checked with a JSON
// Schema) and as Protobuf (decoded with a registered descriptor).

/** The 10-field record every validated scenario publishes. */
export const RECORD = {
  taskId: "t-000001",
  title: "summarize the quarterly report for the planner",
  owner: "agent/planner",
  priority: 2,
  attempt: 1,
  estimateSeconds: 42.5,
  urgent: false,
  tags: ["bench", "load"],
  dueTime: "2026-11-23T12:00:00Z",
  status: "open",
};

/** A JSON payload of the 10-field record, which BENCH_JSON_SCHEMA accepts. */
export function jsonPayload() {
  return Buffer.from(JSON.stringify(RECORD));
}

/** A JSON Schema for the 10-field record, with the usual kinds of constraint. */
export const BENCH_JSON_SCHEMA = {
  type: "object",
  required: ["taskId", "title", "owner", "priority", "status"],
  properties: {
    taskId: { type: "string", pattern: "^t-[0-9]+$" },
    title: { type: "string", minLength: 1, maxLength: 200 },
    owner: { type: "string", minLength: 1, maxLength: 100 },
    priority: { type: "integer", minimum: 0, maximum: 9 },
    attempt: { type: "integer", minimum: 1 },
    estimateSeconds: { type: "number", minimum: 0 },
    urgent: { type: "boolean" },
    tags: { type: "array", items: { type: "string" }, maxItems: 16 },
    dueTime: { type: "string", format: "date-time" },
    status: { enum: ["open", "running", "done"] },
  },
  additionalProperties: false,
};

/** The Protobuf message of the 10-field record (`bench.v1.TaskRecord`). */
export const BENCH_PROTO_MESSAGE = "bench.v1.TaskRecord";

const FIELD_TYPE = { double: 1, int32: 5, bool: 8, string: 9, enum: 14 };

/** A `FileDescriptorSet` (binary) of `bench/v1/task_record.proto`, built without protoc. */
export async function benchDescriptorSet() {
  const { create, toBinary } = await import("@bufbuild/protobuf");
  const { FileDescriptorSetSchema } = await import("@bufbuild/protobuf/wkt");
  const field = (name, number, type, extra = {}) => ({ name, number, type: FIELD_TYPE[type], label: 1, jsonName: name.replace(/_(.)/g, (_, c) => c.toUpperCase()), ...extra });
  return toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, {
      file: [
        {
          name: "bench/v1/task_record.proto",
          package: "bench.v1",
          syntax: "proto3",
          messageType: [
            {
              name: "TaskRecord",
              field: [
                field("task_id", 1, "string"),
                field("title", 2, "string"),
                field("owner", 3, "string"),
                field("priority", 4, "int32"),
                field("attempt", 5, "int32"),
                field("estimate_seconds", 6, "double"),
                field("urgent", 7, "bool"),
                { ...field("tags", 8, "string"), label: 3 },
                field("due_time", 9, "string"),
                field("status", 10, "enum", { typeName: ".bench.v1.TaskStatus" }),
              ],
            },
          ],
          enumType: [
            {
              name: "TaskStatus",
              value: [
                { name: "TASK_STATUS_UNSPECIFIED", number: 0 },
                { name: "TASK_STATUS_OPEN", number: 1 },
                { name: "TASK_STATUS_DONE", number: 2 },
              ],
            },
          ],
        },
      ],
    }),
  );
}

/** The 10-field record encoded as `bench.v1.TaskRecord`. */
export async function protoPayload() {
  const { create, createFileRegistry, fromBinary, toBinary } = await import("@bufbuild/protobuf");
  const { FileDescriptorSetSchema } = await import("@bufbuild/protobuf/wkt");
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, await benchDescriptorSet()));
  const schema = registry.getMessage(BENCH_PROTO_MESSAGE);
  // The enum as its number (TASK_STATUS_OPEN), the rest as they are.
  return Buffer.from(toBinary(schema, create(schema, { ...RECORD, status: 1 })));
}

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

/** Content types of the payload kinds of `wireBatch`. */
const CONTENT_TYPES = { bytes: "application/octet-stream", json: "application/json", protobuf: "application/protobuf" };

/**
 * A batch of `size` wire envelopes. `payloadKind`: `bytes` (PAYLOAD_BYTES
 * opaque bytes), `json` or `protobuf` (the 10-field record, see
 * `payloadFor`); `data` overrides the payload.
 */
export function wireBatch(size, payloadKind = "bytes", data = payload()) {
  const contentType = CONTENT_TYPES[payloadKind];
  if (contentType === undefined) throw new Error(`unknown payload kind ${payloadKind}`);
  return Array.from({ length: size }, () => wireEvent(data, contentType));
}

/** The payload of a kind of `wireBatch`. */
export async function payloadFor(payloadKind) {
  if (payloadKind === "json") return jsonPayload();
  if (payloadKind === "protobuf") return protoPayload();
  return payload();
}

/** The schema definition (SDK registry form) that checks payloads of a kind. */
export async function schemaFor(payloadKind) {
  if (payloadKind === "json") return { jsonSchema: BENCH_JSON_SCHEMA };
  if (payloadKind === "protobuf") return { protobuf: { fileDescriptorSet: await benchDescriptorSet(), messageName: BENCH_PROTO_MESSAGE } };
  throw new Error(`no schema for payload kind ${payloadKind}`);
}
