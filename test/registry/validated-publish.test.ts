/**
 * Validated publish on a real server over SQLite: Protobuf binary and proto
 * JSON payloads, JSON Schema payloads, pattern and base schema precedence,
 * batch atomicity, --require-schemas, schema_version on accepted events, a
 * new version taking effect at once, and schemas surviving a restart.
 */
import { afterEach, describe, expect, it } from "vitest";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ProtobusError, createRegistryClient, type EventInput, type RegistryClient } from "@protobus/sdk";
import { MAX_LISTED_VIOLATIONS } from "../../server/src/errors.js";
import { freePort, startTestServer, tempDir, type TestServer } from "../support/test-server.js";
import { parsePrometheusText } from "../tracing/prometheus-text.js";
import { TASK_CREATED, fixtureDescriptorSet, fixtureMessage, jsonFixture } from "./support.js";

let t: TestServer | undefined;
let registry: RegistryClient | undefined;

async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<{ t: TestServer; registry: RegistryClient }> {
  t = await startTestServer(options);
  registry = createRegistryClient({ address: t.address });
  return { t, registry };
}

afterEach(async () => {
  registry?.close();
  await t?.close();
  registry = undefined;
  t = undefined;
});

async function rejection(promise: Promise<unknown>): Promise<ProtobusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ProtobusError)) throw new Error(`expected a ProtobusError, got ${String(error)}`);
  return error;
}

function fields(error: ProtobusError): Record<string, string> {
  return Object.fromEntries(error.fieldViolations.map((v) => [v.field, v.description]));
}

function taskCreatedBinary(value: Record<string, unknown>): Uint8Array {
  return toBinary(fixtureMessage(TASK_CREATED), create(fixtureMessage(TASK_CREATED), value));
}

const protobufSchema = () => ({ protobuf: { fileDescriptorSet: fixtureDescriptorSet(), messageName: TASK_CREATED } });

describe("validated publish", () => {
  it("checks Protobuf binary payloads, rejecting unknown fields and garbage, and records schema_version", async () => {
    const { t, registry } = await start();
    await registry.register("agent.task.created", protobufSchema());
    const good = taskCreatedBinary({ taskId: "t1", task: { title: "write", priority: 3, tags: ["a"], labels: { team: "core" } } });
    const accepted = await t.client.publish({ type: "agent.task.created", data: good, dataContentType: "application/protobuf" });
    expect((await t.client.getEvent(accepted.id)).schemaVersion).toBe(1);

    // An unknown field deep inside: Task gets field 50.
    const task = toBinary(fixtureMessage("fixtures.agents.v1.Task"), create(fixtureMessage("fixtures.agents.v1.Task"), { title: "x" }));
    const taskWithExtra = new BinaryWriter().raw(task).tag(50, WireType.Varint).uint32(1).finish();
    const nestedUnknown = new BinaryWriter().tag(1, WireType.LengthDelimited).string("t2").tag(2, WireType.LengthDelimited).bytes(taskWithExtra).finish();
    const error = await rejection(t.client.publish({ type: "agent.task.created", data: nestedUnknown, dataContentType: "application/protobuf" }));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(fields(error)["events[0].data.task"]).toMatch(/field number 50 .*fixtures\.agents\.v1\.Task does not define/);

    // Trailing garbage after a valid message.
    const garbage = new Uint8Array([...good, 0xff, 0xff]);
    const garbageError = await rejection(t.client.publish({ type: "agent.task.created", data: garbage, dataContentType: "application/protobuf" }));
    expect(garbageError.code).toBe(Code.INVALID_ARGUMENT);
    expect(garbageError.fieldViolations[0]?.field).toBe("events[0].data");

    const wrongType = await rejection(t.client.publish({ type: "agent.task.created", data: "hello", dataContentType: "text/plain" }));
    expect(fields(wrongType)["events[0].data"]).toMatch(/application\/protobuf or application\/json/);
  });

  it("checks canonical proto JSON payloads, naming the bad field", async () => {
    const { t, registry } = await start();
    await registry.register("agent.task.created", protobufSchema());
    const json = toJsonString(fixtureMessage(TASK_CREATED), create(fixtureMessage(TASK_CREATED), { taskId: "t1", task: { title: "w", priority: 2, status: 1 } }));
    const ok = await t.client.publish({ type: "agent.task.created", data: json, dataContentType: "application/json" });
    expect((await t.client.getEvent(ok.id)).schemaVersion).toBe(1);

    const unknown = await rejection(t.client.publish({ type: "agent.task.created", data: { taskId: "t1", task: { title: "w", colour: "red" } } }));
    expect(fields(unknown)).toEqual({ "events[0].data.task.colour": "is not a field of fixtures.agents.v1.Task" });

    const badValue = await rejection(t.client.publish({ type: "agent.task.created", data: { taskId: "t1", task: { priority: "high" } } }));
    expect(Object.keys(fields(badValue))).toEqual(["events[0].data.task.priority"]);

    const trailing = await rejection(t.client.publish({ type: "agent.task.created", data: '{"taskId":"t1"} trailing', dataContentType: "application/json" }));
    expect(fields(trailing)["events[0].data"]).toMatch(/not valid JSON/);
  });

  it("checks JSON payloads against a JSON Schema, reporting every error with its path under data", async () => {
    const { t, registry } = await start();
    await registry.register("agent.job.created", { jsonSchema: jsonFixture("task-created.v1.json") });
    const ok = await t.client.publish({ type: "agent.job.created", data: { taskId: "j1", task: { title: "w", priority: 9, due: "2026-01-01T00:00:00Z" } } });
    expect((await t.client.getEvent(ok.id)).schemaVersion).toBe(1);

    const error = await rejection(t.client.publish({ type: "agent.job.created", data: { taskId: "", task: { priority: 12, due: "soon", status: "lost" } } }));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(fields(error)).toEqual({
      "events[0].data.taskId": "must NOT have fewer than 1 characters",
      "events[0].data.task.title": "is required",
      "events[0].data.task.priority": "must be <= 9",
      "events[0].data.task.due": 'must match format "date-time"',
      "events[0].data.task.status": 'must be one of "open", "done"',
    });
    expect(error.message).toContain("events[0].data.task.priority: must be <= 9");
  });

  it("names a field that is not an identifier, or an array element at the top of the payload, right after data", async () => {
    const { t, registry } = await start();
    await registry.register("agent.note.added", { jsonSchema: { type: "object", required: ["meta-size"], properties: { "meta-size": { type: "integer" } } } });
    await registry.register("agent.scores.added", { jsonSchema: { type: "array", items: { type: "integer" } } });
    const missing = await rejection(t.client.publish({ type: "agent.note.added", data: {} }));
    expect(fields(missing)).toEqual({ 'events[0].data["meta-size"]': "is required" });
    const wrong = await rejection(t.client.publish({ type: "agent.note.added", data: { "meta-size": "big" } }));
    expect(fields(wrong)).toEqual({ 'events[0].data["meta-size"]': "must be integer" });
    const element = await rejection(t.client.publish({ type: "agent.scores.added", data: [1, "two", 3] }));
    expect(fields(element)).toEqual({ "events[0].data[1]": "must be integer" });
  });

  it("lists the first violations of a payload that fails thousands of checks, in trailers every client reads, and the connection keeps serving", async () => {
    const { t, registry } = await start();
    await registry.register("agent.tags.added", {
      jsonSchema: { type: "object", additionalProperties: false, properties: { tags: { type: "array", items: { type: "string", pattern: "^[a-z]+(-[a-z]+)*$" } } } },
    });
    // 5,000 items failing their pattern, and a key of 100,000 characters that the path repeats.
    const data = { tags: Array.from({ length: 5_000 }, () => "abc-def!"), ["k".repeat(100_000)]: 1 };
    const error = await rejection(t.client.publish({ type: "agent.tags.added", data }));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.message).toMatch(/^\[INVALID_ARGUMENT\] 5001 invalid fields \(the first \d+ listed\): /);
    expect(error.rawMessage.length).toBeLessThanOrEqual(1_000);
    const listed = Object.keys(fields(error));
    expect(listed.length).toBeGreaterThan(1);
    expect(listed.length).toBeLessThan(100);
    // The key's path, clipped; then the items, first ones first.
    expect(listed).toContain(`events[0].data.${"k".repeat(284)}…`);
    expect(listed).toContain("events[0].data.tags[0]");
    for (const field of listed) expect(field.length).toBeLessThanOrEqual(300);
    // The same client (and connection) is answered at once afterwards.
    expect((await t.client.info()).headSequence).toBe(0n);
    // A client that mends what it was told is told about the rest.
    const again = await rejection(t.client.publish({ type: "agent.tags.added", data: { tags: ["ok", "abc-def!"] } }));
    expect(fields(again)).toEqual({ "events[0].data.tags[1]": 'must match pattern "^[a-z]+(-[a-z]+)*$"' });
  });

  it("describes only the first violations of a batch failing 15,000 checks, counts them all, and counts every invalid event", async () => {
    const { t, registry } = await start({ store: "memory", metricsPort: await freePort() });
    await registry.register("agent.scores.set", { jsonSchema: { type: "object", properties: { n: { type: "array", items: { type: "integer", maximum: 9 } } } } });
    // 150 of 300 events hold 100 items over the maximum each.
    const batch = Array.from({ length: 300 }, (_, i): EventInput => ({ type: "agent.scores.set", data: { n: Array.from({ length: 100 }, (_, k) => (i % 2 === 0 ? 10 + k : k % 10)) } }));
    const error = await rejection(t.client.publish(batch));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.message).toMatch(/^\[INVALID_ARGUMENT\] 15000 invalid fields \(the first \d+ listed\): events\[0\]\.data\.n\[0\]: must be <= 9; /);
    const listed = error.fieldViolations.map((v) => v.field);
    expect(listed.slice(0, 3)).toEqual(["events[0].data.n[0]", "events[0].data.n[1]", "events[0].data.n[2]"]);
    expect(listed.length).toBeLessThanOrEqual(MAX_LISTED_VIOLATIONS);
    expect((await t.client.info()).headSequence).toBe(0n);
    const response = await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`);
    const metrics = parsePrometheusText(await response.text());
    expect(metrics.value("protobus_validation_failures_total", { type: "agent.scores.set" })).toBe(150);
  });

  it("counts every unknown field of a Protobuf payload, binary or JSON, describing only the first", async () => {
    const { t, registry } = await start({ store: "memory" });
    await registry.register("agent.task.created", protobufSchema());
    const writer = new BinaryWriter().tag(1, WireType.LengthDelimited).string("t1");
    for (let i = 0; i < 50_000; i++) writer.tag(50, WireType.Varint).uint32(1);
    const binary = await rejection(t.client.publish({ type: "agent.task.created", data: writer.finish(), dataContentType: "application/protobuf" }));
    expect(binary.code).toBe(Code.INVALID_ARGUMENT);
    expect(binary.message).toMatch(/^\[INVALID_ARGUMENT\] 50000 invalid fields \(the first \d+ listed\): events\[0\]\.data: has field number 50 \(varint\)/);
    expect(binary.fieldViolations.length).toBeLessThanOrEqual(MAX_LISTED_VIOLATIONS);
    const keys = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`extra${i}`, i]));
    const json = await rejection(t.client.publish({ type: "agent.task.created", data: { taskId: "t2", ...keys } }));
    expect(json.message).toMatch(/^\[INVALID_ARGUMENT\] 300 invalid fields \(the first \d+ listed\): events\[0\]\.data\.extra0: is not a field of /);
    expect((await t.client.info()).headSequence).toBe(0n);
  });

  it("counts every unregistered type of a large batch under --require-schemas, listing the first", async () => {
    const { t } = await start({ store: "memory", requireSchemas: true });
    const batch = Array.from({ length: 1_000 }, (_, i): EventInput => ({ type: `agent.unknown${i}.created`, data: {} }));
    const error = await rejection(t.client.publish(batch));
    expect(error.code).toBe(Code.FAILED_PRECONDITION);
    expect(error.rawMessage).toMatch(/^1000 events may not be published \(the first 128: events\[0\]\.type: no schema is registered for event type 'agent\.unknown0\.created'/);
    expect(error.preconditionViolations.length).toBeGreaterThan(0);
    expect(error.preconditionViolations.length).toBeLessThanOrEqual(MAX_LISTED_VIOLATIONS);
    expect(error.preconditionViolations[0]?.subject).toBe("events[0].type");
  });

  it("rejects a whole batch for one bad event, stores nothing of it, and accepts the good events after", async () => {
    const { t, registry } = await start();
    await registry.register("agent.job.created", { jsonSchema: jsonFixture("task-created.v1.json") });
    const good = (n: number): EventInput => ({ type: "agent.job.created", correlationId: "batch-1", data: { taskId: `j${n}`, task: { title: "t", priority: 1 } } });
    const bad: EventInput = { type: "agent.job.created", correlationId: "batch-1", data: { taskId: "j-bad", task: { title: "t", priority: 99 } } };
    const error = await rejection(t.client.publish([good(1), bad, good(2)]));
    expect(error.fieldViolations.map((v) => v.field)).toEqual(["events[1].data.task.priority"]);
    expect((await t.client.query({ correlationId: "batch-1" })).events).toEqual([]);
    const results = await t.client.publish([good(1), good(2)]);
    expect(results).toHaveLength(2);
    const stored = (await t.client.query({ correlationId: "batch-1" })).events;
    expect(stored.map((e) => e.schemaVersion)).toEqual([1, 1]);
  });

  it("uses the exact type's schema, else the most specific pattern, and the base schema on every event", async () => {
    const { t, registry } = await start();
    const requiring = (name: string) => ({ jsonSchema: { type: "object", required: [name] } });
    await registry.register("agent.>", requiring("any"));
    await registry.register("agent.task.*", requiring("task"));
    await registry.register("agent.task.created", requiring("exact"));
    await registry.register("*.task.created", requiring("never"));

    const violated = async (type: string, data: object): Promise<string[]> =>
      (await rejection(t.client.publish({ type, data }))).fieldViolations.map((v) => v.field);
    expect(await violated("agent.task.created", {})).toEqual(["events[0].data.exact"]);
    expect(await violated("agent.task.updated", {})).toEqual(["events[0].data.task"]);
    expect(await violated("agent.tool.called", {})).toEqual(["events[0].data.any"]);
    expect(await violated("agent.tool.call.started", {})).toEqual(["events[0].data.any"]);
    expect(await violated("human.task.created", {})).toEqual(["events[0].data.never"]);
    await t.client.publish({ type: "other.thing.happened", data: {} });

    await registry.register("_base", { jsonSchema: { type: "object", required: ["subject"], properties: { source: { pattern: "^agent/" } } } });
    const base = await rejection(t.client.publish({ type: "other.thing.happened", source: "human", data: {} }));
    expect(fields(base)).toEqual({
      "events[0].subject": "is required (base schema '_base')",
      "events[0].source": 'must match pattern "^agent/" (base schema \'_base\')',
    });
    const both = await rejection(t.client.publish({ type: "agent.task.updated", source: "agent/x", data: {} }));
    expect(both.fieldViolations.map((v) => v.field).sort()).toEqual(["events[0].data.task", "events[0].subject"]);
    const ok = await t.client.publish({ type: "agent.task.updated", source: "agent/x", subject: "task-1", data: { task: 1 } });
    expect((await t.client.getEvent(ok.id)).schemaVersion).toBe(1);

    // A violation below a field keeps its path: the field's proto name, then map keys as they are, dots and capitals included.
    await registry.register("_base", {
      jsonSchema: { type: "object", properties: { dataContentType: { const: "application/json" }, attributes: { additionalProperties: { maxLength: 3 } } } },
    });
    const nested = await rejection(
      t.client.publish({ type: "other.thing.happened", dataContentType: "text/plain", attributes: { "Team.Lead": "toolong", ok: "abc" }, data: "x" }),
    );
    expect(Object.keys(fields(nested)).sort()).toEqual(['events[0].attributes["Team.Lead"]', "events[0].data_content_type"]);
  });

  it("applies a new version at once", async () => {
    const { t, registry } = await start();
    await registry.register("agent.job.created", { jsonSchema: jsonFixture("task-created.v1.json") });
    const data = { taskId: "j1", task: { title: "x".repeat(300), priority: 1 } };
    expect(fields(await rejection(t.client.publish({ type: "agent.job.created", data })))).toHaveProperty(["events[0].data.task.title"]);
    await registry.register("agent.job.created", { jsonSchema: jsonFixture("task-created.v2-compatible.json") });
    const ok = await t.client.publish({ type: "agent.job.created", data });
    expect((await t.client.getEvent(ok.id)).schemaVersion).toBe(2);
    await registry.deleteVersion("agent.job.created", 2);
    expect(fields(await rejection(t.client.publish({ type: "agent.job.created", data })))).toHaveProperty(["events[0].data.task.title"]);
  });

  it("with --require-schemas rejects unregistered types with FAILED_PRECONDITION", async () => {
    const { t, registry } = await start({ requireSchemas: true });
    const error = await rejection(t.client.publish([{ type: "agent.job.created", data: {} }]));
    expect(error.code).toBe(Code.FAILED_PRECONDITION);
    expect(error.preconditionViolations).toEqual([
      expect.objectContaining({ type: "SCHEMA_REQUIRED", subject: "events[0].type", description: expect.stringContaining("agent.job.created") }),
    ]);
    await registry.register("agent.*.created", { jsonSchema: { type: "object" } });
    const ok = await t.client.publish({ type: "agent.job.created", data: {} });
    expect((await t.client.getEvent(ok.id)).schemaVersion).toBe(1);
    // A base schema alone does not count as a schema for the type.
    await registry.register("_base", { jsonSchema: true });
    expect((await rejection(t.client.publish({ type: "agent.job.updated", data: {} }))).code).toBe(Code.FAILED_PRECONDITION);
  });

  it("without --require-schemas accepts unregistered types with schema_version 0", async () => {
    const { t } = await start();
    const ok = await t.client.publish({ type: "agent.job.created", data: "anything", dataContentType: "text/plain" });
    expect((await t.client.getEvent(ok.id)).schemaVersion).toBe(0);
  });

  it("keeps schemas and modes across a restart, and keeps validating", async () => {
    const dir = tempDir();
    try {
      const first = await start({ dataDir: dir.path });
      await first.registry.register("agent.task.created", protobufSchema());
      await first.registry.register("agent.job.created", { jsonSchema: jsonFixture("task-created.v1.json") });
      await first.registry.setCompatibility("agent.job.created", "FULL");
      first.registry.close();
      await first.t.close();
      t = undefined;

      const second = await start({ dataDir: dir.path });
      expect((await second.registry.list()).map((s) => `${s.subject}@${s.version}`)).toEqual(["agent.job.created@1", "agent.task.created@1"]);
      expect((await second.registry.getCompatibility("agent.job.created")).mode).toBe("FULL");
      const error = await rejection(second.t.client.publish({ type: "agent.job.created", data: { taskId: "j", task: { title: "t", priority: 10 } } }));
      expect(fields(error)).toEqual({ "events[0].data.task.priority": "must be <= 9" });
      const ok = await second.t.client.publish({ type: "agent.task.created", data: taskCreatedBinary({ taskId: "t" }), dataContentType: "application/protobuf" });
      expect((await second.t.client.getEvent(ok.id)).schemaVersion).toBe(1);
    } finally {
      registry?.close();
      await t?.close();
      t = undefined;
      registry = undefined;
      dir.dispose();
    }
  });
});
