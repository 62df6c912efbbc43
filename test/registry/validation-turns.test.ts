/**
 * A batch whose payload checks outlast a turn slice goes on in later turns
 * of the event loop (server/src/turn-slice.ts), so one request of large
 * payloads does not hold up every other call on the server; the batch is
 * still judged as a whole. Checked on the registry's validator over a real
 * schema registry: split into as many turns as it can be (a slice of 0 ms),
 * a batch gets the same violations, counts, preconditions and schema
 * versions as checked in one turn, and other callbacks run between its
 * turns.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { Event } from "@protobus/sdk/proto";
import { SchemaRegistry } from "../../server/src/registry/schema-registry.js";
import { SchemaValidator } from "../../server/src/registry/payload-validator.js";
import { MemorySchemaStore } from "../../server/src/storage/memory/schema-store.js";
import type { PublishValidation } from "../../server/src/bus/publish-validator.js";
import { fixtureDescriptorSet, fixtureMessage, jsonFixture, TASK_CREATED } from "./support.js";

const PROTO_TYPE = "turns.task.binary";
const JSON_TYPE = "turns.task.created";
const MiB = 2 ** 20;

function event(type: string, data: Uint8Array, dataContentType: string): Event {
  return Event.fromPartial({ source: "test", type, specVersion: "1.0", dataContentType, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
}

/** About `bytes` of unknown field 2047 (varint 0) repeated: valid wire format, every field unknown to TaskCreated. */
function unknownFields(bytes: number): Uint8Array {
  const out = Buffer.alloc(bytes - (bytes % 3));
  for (let i = 0; i < out.length; i += 3) out.set([0xf8, 0x7f, 0x00], i);
  return out;
}

const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

describe("validation of a large batch takes turns", () => {
  let registry: SchemaRegistry;
  let batch: Event[];
  beforeAll(async () => {
    registry = new SchemaRegistry(new MemorySchemaStore());
    await registry.register({ subject: PROTO_TYPE, format: "PROTOBUF", definition: fixtureDescriptorSet(), messageName: TASK_CREATED });
    await registry.register({ subject: JSON_TYPE, format: "JSON_SCHEMA", definition: Buffer.from(jsonFixture("task-created.v1.json")), messageName: "" });
    const taskCreated = fixtureMessage(TASK_CREATED);
    const valid = toBinary(taskCreated, create(taskCreated, { taskId: "t1" }));
    batch = [];
    for (let i = 0; i < 40; i++) {
      batch.push(
        event(JSON_TYPE, json({ taskId: "", task: { title: "x".repeat(300), priority: 12 } }), "application/json"),
        event(PROTO_TYPE, Uint8Array.of(0x0a, 0x05, 0x61), "application/protobuf"),
        event(PROTO_TYPE, valid, "application/protobuf"),
        event(JSON_TYPE, json({ taskId: "t", task: { title: "x", priority: 3 } }), "application/json"),
        event("turns.unregistered", json({}), "application/json"),
        event(PROTO_TYPE, unknownFields(i % 10 === 9 ? MiB / 4 : 30), "application/protobuf"),
      );
    }
  });

  /** Validates with a warm index, counting the turns other callbacks got while it ran. */
  async function validateCountingTurns(events: readonly Event[], turnSliceMs?: number, requireSchemas = true): Promise<{ result: PublishValidation; sync: boolean; turns: number }> {
    const validator = new SchemaValidator(registry, { requireSchemas, ...(turnSliceMs !== undefined ? { turnSliceMs } : {}) });
    await validator.validate([event(JSON_TYPE, json({ taskId: "t", task: { title: "x", priority: 1 } }), "application/json")]);
    let done = false;
    let turns = 0;
    const tick = (): void => {
      if (done) return;
      turns += 1;
      setImmediate(tick);
    };
    setImmediate(tick);
    const pending = validator.validate(events);
    const sync = !(pending instanceof Promise);
    const result = await pending;
    done = true;
    return { result, sync, turns };
  }

  it("gets the same findings in as many turns as it can take as in one", async () => {
    const whole = await validateCountingTurns(batch, Infinity);
    expect(whole.sync).toBe(true);
    const split = await validateCountingTurns(batch, 0);
    expect(split.sync).toBe(false);
    expect(split.turns).toBeGreaterThanOrEqual(4);
    expect(split.result).toEqual(whole.result);
    // The findings are real: each kind of fault of the batch is there.
    expect(whole.result.violationCount).toBeGreaterThan(whole.result.violations.length);
    expect(whole.result.invalidEvents?.length).toBe(40 * 3);
    expect(whole.result.preconditionCount).toBe(40);
    expect(whole.result.schemaVersions.filter((v) => v === 1)).toHaveLength(40 * 5);
    expect(new Set(whole.result.violations.map((v) => v.reason))).toEqual(new Set(["UNKNOWN_FIELD", "DECODE", "MINLENGTH", "MAXLENGTH", "MAXIMUM"]));
  });

  it("gives other callbacks a turn between large payloads, with the default slice too", async () => {
    const large = [0, 1, 2].map(() => event(PROTO_TYPE, unknownFields(MiB), "application/protobuf"));
    const { result, sync, turns } = await validateCountingTurns(large, 0);
    expect(sync).toBe(false);
    expect(turns).toBeGreaterThanOrEqual(2);
    expect(result.invalidEvents).toEqual([0, 1, 2]);
    // The default slice (a few milliseconds) is spent by one such payload on any machine: checking it walks 349,525 fields.
    const byDefault = await validateCountingTurns(large);
    expect(byDefault.sync).toBe(false);
    expect(byDefault.result).toEqual(result);
  });

  it("answers a batch that fits in its slice synchronously, and without schemas required the same", async () => {
    expect((await validateCountingTurns(batch.slice(0, 6), Infinity)).sync).toBe(true);
    const lenient = await validateCountingTurns(batch, 0, false);
    const lenientWhole = await validateCountingTurns(batch, Infinity, false);
    expect(lenient.sync).toBe(false);
    expect(lenientWhole.sync).toBe(true);
    expect(lenient.result).toEqual(lenientWhole.result);
    expect(lenient.result.preconditionCount).toBe(0);
  });
});
