/**
 * Issue rows 5, 6 and the schema part of row 15: schemas are held to size
 * and complexity limits before they are parsed or compiled, `$ref` cycles
 * that never descend into the value are refused, and `uniqueItems` runs in
 * linear time. A 3.8 MB schema of 60,000 properties is refused at once
 * (it blocked registration for 16 s and took 2.3 GB), a 20,000-item array
 * under `uniqueItems` is checked at once (it stalled 20 s), and a
 * bystander's GetBusInfo is answered within 100 ms throughout.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient, createRegistryClient, type ProtobusClient, type RegistryClient } from "@protobus/sdk";
import { expectInvalid, expectLimitError, expectNoStall, rejection, rssBytes, startHardeningServer, type HardeningServer, STALL_RETRY } from "./support.js";

const MB = 1024 * 1024;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const json = { dataContentType: "application/json" } as const;

/** A flat schema of `count` string properties. */
function wideSchema(count: number, padding = 0): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) properties[`property_${i}_${"x".repeat(padding)}`] = { type: "string", maxLength: 100 };
  return { type: "object", properties };
}

/** A schema nesting `depth` objects. */
function deepSchema(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < depth; i++) schema = { type: "object", properties: { inner: schema } };
  return schema;
}

/** A descriptor set of `count` empty messages in one file. */
function descriptorSet(count: number): Uint8Array {
  return toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, {
      file: [{ name: "many.proto", package: "many.v1", syntax: "proto3", messageType: Array.from({ length: count }, (_, i) => ({ name: `M${i}` })) }],
    }),
  );
}

describe("schema limits", () => {
  let server: HardeningServer;
  let client: ProtobusClient;
  let registry: RegistryClient;
  beforeAll(async () => {
    server = await startHardeningServer(["--max-schema-messages", "50"]);
    client = createClient({ address: server.address, source: "hardening" });
    registry = createRegistryClient({ address: server.address });
  });
  afterAll(async () => {
    await client.close();
    registry.close();
    await server.close();
  });

  it("row 5: a 3.8 MB schema of 60,000 properties is refused before it is parsed; memory stays flat and publishing goes on", STALL_RETRY, async () => {
    const huge = JSON.stringify(wideSchema(60_000, 12));
    expect(huge.length).toBeGreaterThan(3.5 * MB);
    await client.publish({ type: "hard.schema.before" });
    const before = rssBytes(server.process.pid as number);
    await expectNoStall(server, async () => {
      for (let i = 0; i < 3; i++) {
        const error = await rejection(registry.register("hard.schema.huge", { jsonSchema: huge }));
        // Refused on the request's size, before it is decoded.
        const failure = expectLimitError(error, Code.INVALID_ARGUMENT, "max-schema-bytes", "schema");
        expect(failure.message).toContain(`${MB}`);
        expectLimitError(await rejection(registry.check("hard.schema.huge", { jsonSchema: huge })), Code.INVALID_ARGUMENT, "max-schema-bytes");
      }
    });
    // The budget: the request buffers of six calls (4 MB each) and their decoded text, nothing kept.
    const grown = rssBytes(server.process.pid as number) - before;
    expect(grown, `RSS grew by ${(grown / MB).toFixed(1)} MB`).toBeLessThan(80 * MB);
    const after = await client.publish({ type: "hard.schema.huge", data: encode({ property_0: "ok" }), ...json });
    expect(after.sequence).toBeGreaterThan(0n);
  });

  it("row 5: a schema just over the byte limit is refused naming the field, before it is parsed", async () => {
    const over = JSON.stringify({ type: "object", description: "x".repeat(MB) });
    const error = await rejection(registry.register("hard.schema.over", { jsonSchema: over }));
    expect(expectLimitError(error, Code.INVALID_ARGUMENT, "max-schema-bytes", "schema.json_schema").message).toContain(`over the limit of ${MB}`);
  });

  it("row 5: within the byte limit, too many subschemas or too deep a nesting is refused naming the limit", async () => {
    const wide = await rejection(registry.register("hard.schema.wide", { jsonSchema: wideSchema(200) }));
    expectLimitError(wide, Code.INVALID_ARGUMENT, "max-schema-properties", "schema.json_schema");
    const deep = await rejection(registry.register("hard.schema.deep", { jsonSchema: deepSchema(40) }));
    expectLimitError(deep, Code.INVALID_ARGUMENT, "max-schema-depth", "schema.json_schema");
    // A raw nesting of arrays is refused before JSON.parse sees it.
    const nested = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expectLimitError(await rejection(registry.register("hard.schema.deep", { jsonSchema: nested })), Code.INVALID_ARGUMENT, "max-schema-depth");
    // Just within the limits is fine.
    await registry.register("hard.schema.wide", { jsonSchema: wideSchema(199) });
    await registry.register("hard.schema.deep", { jsonSchema: deepSchema(30) });
  });

  it("row 5: a descriptor set over the byte or type limit is refused before it is read", async () => {
    const junk = new Uint8Array(MB + 1).fill(0xff);
    const big = await rejection(registry.register("hard.proto.big", { protobuf: { fileDescriptorSet: junk, messageName: "x.Y" } }));
    expectLimitError(big, Code.INVALID_ARGUMENT, "max-schema-bytes", "schema.protobuf.file_descriptor_set");
    const many = await rejection(registry.register("hard.proto.many", { protobuf: { fileDescriptorSet: descriptorSet(51), messageName: "many.v1.M0" } }));
    expectLimitError(many, Code.INVALID_ARGUMENT, "max-schema-messages", "schema.protobuf.file_descriptor_set");
    await registry.register("hard.proto.many", { protobuf: { fileDescriptorSet: descriptorSet(50), messageName: "many.v1.M0" } });
  });

  it("row 6: uniqueItems over a 20,000-item array is checked in linear time", STALL_RETRY, async () => {
    await registry.register("hard.schema.unique", { jsonSchema: { type: "array", uniqueItems: true, maxItems: 100_000 } });
    // Items no ajv fast path covers (mixed types): ajv compared every pair, 2e8 deep comparisons.
    const items: unknown[] = Array.from({ length: 20_000 }, (_, i) => (i % 2 === 0 ? `item-${i}` : { id: i }));
    // The validator is compiled, and the check's code warmed up, by a first round before the
    // measure: what is measured is the check of a running server, not the compiler's first pass.
    await client.publish({ type: "hard.schema.unique", data: encode([1, 2, 3]), ...json });
    await rejection(client.publish({ type: "hard.schema.unique", data: encode([...items, { id: 19_999 }]), ...json }));
    // The duplicate comes last, so the whole array is checked; nothing is stored (storing a
    // 250 KB payload is the store's time, not the check's).
    await expectNoStall(server, async () => {
      for (let round = 0; round < 3; round++) {
        const duplicate = [...items, { id: 19_999 }];
        const error = await rejection(client.publish({ type: "hard.schema.unique", data: encode(duplicate), ...json }));
        expectInvalid(error, "events[0].data", "items ## 19999 and 20000 are identical");
      }
    });
    const ok = await client.publish({ type: "hard.schema.unique", data: encode(items), ...json });
    expect(ok.sequence).toBeGreaterThan(0n);
    // Equal as JSON values whatever the order of their keys.
    const nested = Array.from({ length: 20_000 }, (_, i) => ({ a: [i, { b: `x${i}` }], c: null }));
    const reordered = [...nested, { c: null, a: [19_999, { b: "x19999" }] }];
    expectInvalid(await rejection(client.publish({ type: "hard.schema.unique", data: encode(reordered), ...json })), "events[0].data", "are identical");
  });

  it("row 15: a $ref cycle that never descends is refused at registration; a recursive schema that descends works", async () => {
    const selfRef = await rejection(registry.register("hard.schema.cycle", { jsonSchema: { $ref: "#" } }));
    expectInvalid(selfRef, "schema.json_schema", "$ref cycle");
    const indirect = await rejection(
      registry.register("hard.schema.cycle", {
        jsonSchema: { allOf: [{ $ref: "#/definitions/a" }], definitions: { a: { anyOf: [{ not: { $ref: "#/definitions/b" } }] }, b: { $ref: "#" } } },
      }),
    );
    expectInvalid(indirect, "schema.json_schema", "$ref cycle");
    const tree = {
      type: "object",
      properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#" } } },
      required: ["name"],
    };
    await registry.register("hard.schema.tree", { jsonSchema: tree });
    const nest = (depth: number): unknown => (depth === 0 ? { name: "leaf" } : { name: `n${depth}`, children: [nest(depth - 1)] });
    await client.publish({ type: "hard.schema.tree", data: encode(nest(30)), ...json });
    // Deeper than --max-payload-depth (64): refused on the bytes, before parsing.
    const deep = await rejection(client.publish({ type: "hard.schema.tree", data: encode(nest(40)), ...json }));
    expectInvalid(deep, "events[0].data", "max-payload-depth");
    const bad = await rejection(client.publish({ type: "hard.schema.tree", data: encode({ name: "x", children: [{ children: [] }] }), ...json }));
    expectInvalid(bad, "events[0].data.children[0].name");
  });
});
