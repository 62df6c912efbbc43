/**
 * The SchemaRegistry service on a real server over SQLite, through the SDK:
 * versioning, identical re-registration, soft delete, rejected registrations
 * (FAILED_PRECONDITION with every violation, nothing stored), modes global
 * and per subject, transitive modes, dry runs, bad definitions, and
 * concurrent registrations that cannot both pass.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, createRegistryClient, type RegistryClient } from "@protobus/sdk";
import { startTestServer, tempDir, type TestServer } from "../support/test-server.js";
import { PROTO_DIR, TASK_CREATED, buildDescriptorSet, fixtureDescriptorSet, jsonFixture } from "./support.js";

async function rejection(promise: Promise<unknown>): Promise<ProtobusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ProtobusError)) throw new Error(`expected a ProtobusError, got ${String(error)}`);
  return error;
}

describe("schema registry service", () => {
  let t: TestServer;
  let registry: RegistryClient;
  beforeAll(async () => {
    t = await startTestServer();
    registry = createRegistryClient({ address: t.address });
  });
  afterAll(async () => {
    registry.close();
    await t.close();
  });

  it("registers versions, answers an identical registration with the existing version, lists and soft-deletes", async () => {
    const v1 = await registry.register("reg.task.created", { jsonSchema: jsonFixture("task-created.v1.json") });
    expect(v1).toMatchObject({ alreadyRegistered: false, schema: { subject: "reg.task.created", version: 1, format: "JSON_SCHEMA", deleted: false } });
    expect(v1.schema.createTime).toBeInstanceOf(Date);
    const v2 = await registry.register("reg.task.created", { jsonSchema: jsonFixture("task-created.v2-compatible.json") });
    expect(v2.schema.version).toBe(2);
    const again = await registry.register("reg.task.created", { jsonSchema: jsonFixture("task-created.v2-compatible.json") });
    expect(again).toMatchObject({ alreadyRegistered: true, schema: { version: 2 } });

    expect((await registry.get("reg.task.created")).version).toBe(2);
    const first = await registry.get("reg.task.created", 1);
    expect(JSON.parse(String("jsonSchema" in first.definition ? first.definition.jsonSchema : ""))).toEqual(JSON.parse(jsonFixture("task-created.v1.json")));
    expect((await registry.versions("reg.task.created")).map((s) => s.version)).toEqual([1, 2]);
    expect((await registry.list({ prefix: "reg.task." })).map((s) => `${s.subject}@${s.version}`)).toEqual(["reg.task.created@2"]);

    const deleted = await registry.deleteVersion("reg.task.created", 2);
    expect(deleted).toMatchObject({ version: 2, deleted: true });
    expect((await registry.get("reg.task.created")).version).toBe(1);
    expect((await registry.versions("reg.task.created")).map((s) => s.version)).toEqual([1]);
    expect((await registry.versions("reg.task.created", { includeDeleted: true })).map((s) => [s.version, s.deleted])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect((await rejection(registry.get("reg.nothing.here"))).code).toBe(Code.NOT_FOUND);
    expect((await rejection(registry.deleteVersion("reg.task.created", 9))).code).toBe(Code.NOT_FOUND);
  });

  it("rejects an incompatible JSON Schema with FAILED_PRECONDITION listing every violation, and stores nothing", async () => {
    await registry.register("reg.job.created", { jsonSchema: jsonFixture("task-created.v1.json") });
    const error = await rejection(registry.register("reg.job.created", { jsonSchema: jsonFixture("task-created.v2-breaking.json") }));
    expect(error.code).toBe(Code.FAILED_PRECONDITION);
    const found = error.preconditionViolations.map((v) => `${v.type} ${v.subject}`).sort();
    expect(found).toEqual([
      "JSON_ENUM_VALUE_REMOVED /properties/task/properties/status/enum",
      "JSON_MAXIMUM_TIGHTENED /properties/task/properties/priority/maximum",
      "JSON_MAX_LENGTH_TIGHTENED /properties/task/properties/title/maxLength",
      "JSON_REQUIRED_ADDED /properties/owner",
    ]);
    const maximum = error.preconditionViolations.find((v) => v.type === "JSON_MAXIMUM_TIGHTENED");
    expect(maximum?.description).toBe("BACKWARD against version 1: maximum is 9 in version 1 but 5 in the new schema");
    expect((await registry.versions("reg.job.created")).map((s) => s.version)).toEqual([1]);
  });

  it("rejects an incompatible Protobuf schema naming fully qualified fields, old versus new", async () => {
    await registry.register("reg.proto.created", { protobuf: { fileDescriptorSet: fixtureDescriptorSet(), messageName: TASK_CREATED } });
    const dir = tempDir();
    try {
      cpSync(PROTO_DIR, dir.path, { recursive: true });
      const file = join(dir.path, "fixtures/agents/v1/tasks.proto");
      const changed = readFileSync(file, "utf8")
        .replace("  uint32 priority = 2;\n", "  string priority = 2;\n")
        .replace("  repeated string tags = 3;\n", "")
        .replace("  STATUS_DONE = 2;\n", "");
      writeFileSync(file, changed);
      const broken = buildDescriptorSet(dir.path);
      const error = await rejection(registry.register("reg.proto.created", { protobuf: { fileDescriptorSet: broken, messageName: TASK_CREATED } }));
      expect(error.code).toBe(Code.FAILED_PRECONDITION);
      expect(error.preconditionViolations.map((v) => `${v.type} ${v.subject}`).sort()).toEqual([
        "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED fixtures.agents.v1.Status.STATUS_DONE",
        "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED fixtures.agents.v1.Status.STATUS_DONE",
        "FIELD_NO_DELETE_UNLESS_NAME_RESERVED fixtures.agents.v1.Task.tags",
        "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED fixtures.agents.v1.Task.tags",
        "FIELD_WIRE_JSON_COMPATIBLE_TYPE fixtures.agents.v1.Task.priority",
      ]);
      expect(error.preconditionViolations.find((v) => v.type === "FIELD_WIRE_JSON_COMPATIBLE_TYPE")?.description).toBe(
        'BACKWARD against version 1: field 2 "priority" has type uint32 in version 1 but string in the new schema, which is not wire and JSON compatible',
      );
      expect(await registry.versions("reg.proto.created")).toHaveLength(1);

      const report = await registry.check("reg.proto.created", { protobuf: { fileDescriptorSet: broken, messageName: TASK_CREATED } }, { mode: "FORWARD" });
      expect(report.compatible).toBe(false);
      expect(report.mode).toBe("FORWARD");
      expect(report.violations.every((v) => v.direction === "FORWARD")).toBe(true);
      expect(report.violations.map((v) => v.rule)).toContain("FIELD_WIRE_JSON_COMPATIBLE_TYPE");
    } finally {
      dir.dispose();
    }
  });

  it("follows the subject's mode, else the global one, else BACKWARD", async () => {
    expect(await registry.getCompatibility()).toEqual({ subject: "", mode: "BACKWARD", inherited: true });
    expect(await registry.getCompatibility("reg.mode.created")).toEqual({ subject: "reg.mode.created", mode: "BACKWARD", inherited: true });
    await registry.register("reg.mode.created", { jsonSchema: jsonFixture("task-created.v1.json") });
    const breaking = { jsonSchema: jsonFixture("task-created.v2-breaking.json") };

    expect(await registry.setCompatibility("reg.mode.created", "NONE")).toEqual({ subject: "reg.mode.created", mode: "NONE", inherited: false });
    expect((await registry.check("reg.mode.created", breaking)).compatible).toBe(true);
    await registry.setCompatibility("reg.mode.created", undefined);
    expect(await registry.getCompatibility("reg.mode.created")).toEqual({ subject: "reg.mode.created", mode: "BACKWARD", inherited: true });

    await registry.setCompatibility(undefined, "NONE");
    try {
      expect(await registry.getCompatibility("reg.mode.created")).toEqual({ subject: "reg.mode.created", mode: "NONE", inherited: true });
      const v2 = await registry.register("reg.mode.created", breaking);
      expect(v2.schema.version).toBe(2);
    } finally {
      await registry.setCompatibility(undefined, "BACKWARD");
    }
    // FORWARD: the previous schema must accept what the new one produces.
    await registry.setCompatibility("reg.mode.created", "FORWARD");
    const forward = await rejection(registry.register("reg.mode.created", { jsonSchema: jsonFixture("task-created.v1.json") }));
    expect(forward.preconditionViolations.every((v) => v.description.startsWith("FORWARD against version 2"))).toBe(true);
    expect(forward.preconditionViolations.map((v) => v.type)).toContain("JSON_MAXIMUM_TIGHTENED");
  });

  it("checks transitive modes against every live version", async () => {
    const max = (n: number) => ({ jsonSchema: { type: "object", properties: { n: { type: "integer", maximum: n } } } });
    await registry.setCompatibility("reg.trans.created", "NONE");
    await registry.register("reg.trans.created", max(10));
    await registry.register("reg.trans.created", max(5));
    const plain = await registry.check("reg.trans.created", max(7), { mode: "BACKWARD" });
    expect(plain).toMatchObject({ compatible: true, checkedVersions: [2] });
    const transitive = await registry.check("reg.trans.created", max(7), { mode: "BACKWARD_TRANSITIVE" });
    expect(transitive.compatible).toBe(false);
    expect(transitive.checkedVersions).toEqual([1, 2]);
    expect(transitive.violations).toEqual([
      { rule: "JSON_MAXIMUM_TIGHTENED", path: "/properties/n/maximum", description: "maximum is 10 in version 1 but 7 in the new schema", version: 1, direction: "BACKWARD" },
    ]);
    await registry.setCompatibility("reg.trans.created", "FULL_TRANSITIVE");
    expect((await rejection(registry.register("reg.trans.created", max(7)))).code).toBe(Code.FAILED_PRECONDITION);
    expect((await registry.versions("reg.trans.created")).map((s) => s.version)).toEqual([1, 2]);
  });

  it("refuses unusable definitions and subjects with INVALID_ARGUMENT naming the field", async () => {
    const field = async (promise: Promise<unknown>) => {
      const error = await rejection(promise);
      expect(error.code).toBe(Code.INVALID_ARGUMENT);
      return error.fieldViolations.map((v) => v.field);
    };
    expect(await field(registry.register("reg.bad.json", { jsonSchema: "{not json" }))).toEqual(["schema.json_schema"]);
    expect(await field(registry.register("reg.bad.json", { jsonSchema: { type: "no-such-type" } }))).toEqual(["schema.json_schema"]);
    expect(await field(registry.register("reg.bad.proto", { protobuf: { fileDescriptorSet: new Uint8Array([1, 2, 3]), messageName: "x.Y" } }))).toEqual([
      "schema.protobuf.file_descriptor_set",
    ]);
    expect(await field(registry.register("reg.bad.proto", { protobuf: { fileDescriptorSet: fixtureDescriptorSet(), messageName: "fixtures.agents.v1.Nope" } }))).toEqual([
      "schema.protobuf.message_name",
    ]);
    expect(await field(registry.register("Not A Subject", { jsonSchema: {} }))).toEqual(["schema.subject"]);
    expect(await field(registry.register("a.>.b", { jsonSchema: {} }))).toEqual(["schema.subject"]);
    expect(await field(registry.register("_base", { protobuf: { fileDescriptorSet: fixtureDescriptorSet(), messageName: TASK_CREATED } }))).toEqual([
      "schema.json_schema",
    ]);
    expect(await registry.list({ prefix: "reg.bad." })).toEqual([]);
  });

  it("lets exactly one of two mutually incompatible concurrent registrations in", async () => {
    await registry.register("reg.race.created", { jsonSchema: { type: "object", properties: { x: { type: "integer" } } } });
    const widen = (other: string) => ({ jsonSchema: { type: "object", properties: { x: { type: ["integer", other] } } } });
    const outcomes = await Promise.allSettled([
      registry.register("reg.race.created", widen("string")),
      registry.register("reg.race.created", widen("boolean")),
      registry.register("reg.race.created", widen("null")),
    ]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === "rejected") expect((o.reason as ProtobusError).code).toBe(Code.FAILED_PRECONDITION);
    }
    expect((await registry.versions("reg.race.created")).map((s) => s.version)).toEqual([1, 2]);
  });
});
