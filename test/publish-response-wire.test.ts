/**
 * The hand-written `PublishResponse` encoder (server/src/wire.ts) writes
 * exactly the bytes of the generated codec, for ids of every kind,
 * sequences below and above 2^32, duplicates and empty fields; its field
 * numbers name the fields of the descriptor.
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { PublishResponse } from "@protobus/sdk/proto";
import { PublishResponseField, PublishResultField, encodePublishResponse } from "../server/src/wire.js";

const require = createRequire(import.meta.url);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(require.resolve("@protobus/sdk/descriptor"))));

describe("encodePublishResponse", () => {
  it("names the fields of the descriptor", () => {
    for (const [typeName, fields] of [
      ["protobus.v1.PublishResponse", PublishResponseField],
      ["protobus.v1.PublishResult", PublishResultField],
    ] as const) {
      const message = registry.getMessage(typeName);
      for (const [name, number] of Object.entries(fields)) expect(message?.fields.find((f) => f.localName === name)?.number, `${typeName}.${name}`).toBe(number);
    }
  });

  it("writes the generated codec's bytes", () => {
    const results = [
      { id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", sequence: 1n, duplicate: false },
      { id: "", sequence: 0n, duplicate: false },
      { id: "ünïcødé-✓", sequence: 2n ** 32n, duplicate: true },
      { id: "x".repeat(300), sequence: 2n ** 63n - 1n, duplicate: false },
      { id: "dup", sequence: 127n, duplicate: true },
    ];
    for (const value of [[], results, results.slice(0, 1)]) {
      const expected = PublishResponse.encode({ results: value }).finish();
      expect(new Uint8Array(encodePublishResponse(value))).toEqual(expected);
    }
  });
});
