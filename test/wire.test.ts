/**
 * The hand-written wire layout (server/src/wire.ts) against the bundled
 * descriptor set: every field number the server writes or reads by hand
 * names the field it means, with a wire type that fits the field's kind; and
 * the varint helpers agree with the generated codecs' writer.
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ScalarType, createFileRegistry, fromBinary, type DescField } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
// The wire module is internal to the server: imported by path, as the tests of other internals are.
import {
  DeliveryBatchField,
  DeliveryField,
  EventField,
  SubscribeResponseField,
  TimestampField,
  varintBytes,
  varintSize,
  writeVarint,
} from "../server/src/wire.js";

const require = createRequire(import.meta.url);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(require.resolve("@protobus/sdk/descriptor"))));

const VARINT_SCALARS = new Set([ScalarType.UINT32, ScalarType.UINT64, ScalarType.INT32, ScalarType.INT64, ScalarType.BOOL]);

/** The wire type the field is encoded with: 0 for varints, 2 for messages, strings, bytes and packed repeats. */
function wireTypeOf(field: DescField): number {
  if (field.fieldKind === "message" || field.fieldKind === "list") return 2;
  if (field.fieldKind === "enum") return 0;
  if (field.fieldKind === "scalar") return VARINT_SCALARS.has(field.scalar) ? 0 : field.scalar === ScalarType.STRING || field.scalar === ScalarType.BYTES ? 2 : -1;
  return -1;
}

const expectations: Array<[string, Record<string, number>, Record<string, number>]> = [
  ["protobus.v1.Event", EventField, { priority: 0, tags: 2, orderingKey: 2, sequence: 0, publishTime: 2 }],
  ["google.protobuf.Timestamp", TimestampField, { seconds: 0, nanos: 0 }],
  ["protobus.v1.SubscribeResponse", SubscribeResponseField, { delivery: 2, batch: 2 }],
  ["protobus.v1.Delivery", DeliveryField, { event: 2, deliveryId: 2, attempt: 0 }],
  ["protobus.v1.DeliveryBatch", DeliveryBatchField, { deliveries: 2 }],
];

describe("the hand-written wire layout", () => {
  for (const [typeName, fields, wireTypes] of expectations) {
    it(`matches ${typeName} in the descriptor`, () => {
      const message = registry.getMessage(typeName);
      expect(message, typeName).toBeDefined();
      for (const [name, number] of Object.entries(fields)) {
        const field = message?.fields.find((f) => f.localName === name);
        expect(field, `${typeName}.${name}`).toBeDefined();
        expect(field?.number, `${typeName}.${name}`).toBe(number);
        expect(wireTypeOf(field as DescField), `${typeName}.${name} wire type`).toBe(wireTypes[name]);
      }
    });
  }

  it("writes varints as the generated codecs do, below and above 2^32", () => {
    for (const value of [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      const expected = new BinaryWriter().uint64(value).finish();
      const buffer = new Uint8Array(10);
      expect(writeVarint(buffer, 0, value), `length of ${value}`).toBe(expected.length);
      expect(buffer.subarray(0, expected.length), `bytes of ${value}`).toEqual(expected);
      expect(varintSize(value)).toBe(expected.length);
      expect(Uint8Array.from(varintBytes(value))).toEqual(expected);
    }
  });
});
