/**
 * The wire walk that accepts binary Protobuf payloads without building the
 * message (server/src/registry/protobuf-wire-check.ts) must never accept a
 * payload the full decode would refuse or find unknown fields in. Checked
 * over every message of the bundled descriptor set (proto3, proto2 with
 * closed enums and groups, maps, oneofs, packed repeats), with filled-in
 * messages, the descriptor set itself, and every truncation and many byte
 * flips of them; valid payloads of open messages must be accepted, so the
 * fast path is taken. Payloads with unknown fields at their top level are
 * judged by the walk too, with the same violations, in the same order, as
 * the full decode names.
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ScalarType, create, createFileRegistry, equals, fromBinary, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { topLevelUnknownFields } from "../server/src/registry/protobuf-wire-check.js";
import { checkProtobufBinary, checkProtobufBinaryByDecode } from "../server/src/registry/protobuf-payload.js";

const require = createRequire(import.meta.url);
const descriptorSet = readFileSync(require.resolve("@protobus/sdk/descriptor"));
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
const messages = [...registry].filter((type): type is DescMessage => type.kind === "message");

function scalarValue(scalar: ScalarType): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return "héllo ✓";
    case ScalarType.BYTES:
      return new Uint8Array([1, 2, 250]);
    case ScalarType.BOOL:
      return true;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return -5n;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return 2n ** 40n;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return 1.5;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return -7;
    default:
      return 300;
  }
}

function fieldValue(field: DescField, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar);
    case "enum":
      return field.enum.values.at(-1)?.number ?? 0;
    case "message":
      return filled(field.message, depth + 1);
    case "list": {
      const item = field.listKind === "scalar" ? scalarValue(field.scalar) : field.listKind === "enum" ? (field.enum.values[0]?.number ?? 0) : filled(field.message, depth + 1);
      return [item, item];
    }
    case "map": {
      const value = field.mapKind === "scalar" ? scalarValue(field.scalar) : field.mapKind === "enum" ? (field.enum.values[0]?.number ?? 0) : filled(field.message, depth + 1);
      const key = field.mapKey === ScalarType.STRING ? "k" : field.mapKey === ScalarType.BOOL ? "true" : "3";
      return { [key]: value };
    }
  }
}

/** A message of `desc` with every field set (the first member of each oneof). */
function filled(desc: DescMessage, depth = 0): unknown {
  const init: Record<string, unknown> = {};
  const nested = (field: DescField): boolean => field.message !== undefined;
  for (const member of desc.members) {
    // Three levels deep, then scalars only (required fields stay set).
    if (depth > 2 && member.kind !== "oneof" && nested(member)) continue;
    if (depth > 2 && member.kind === "oneof" && member.fields[0] !== undefined && nested(member.fields[0])) continue;
    if (member.kind === "oneof") {
      const field = member.fields[0];
      if (field !== undefined) init[member.localName] = { case: field.localName, value: fieldValue(field, depth) };
    } else init[member.localName] = fieldValue(member, depth);
  }
  return create(desc, init as never);
}

/** What the full decode says: true when it decodes and holds no unknown field anywhere. */
function fullDecodeAccepts(desc: DescMessage, data: Uint8Array): boolean {
  try {
    const withUnknown = fromBinary(desc, data, { readUnknownFields: true });
    return equals(desc, withUnknown, fromBinary(desc, data, { readUnknownFields: false }), { registry, unknown: true });
  } catch {
    return false;
  }
}

/** What the wire walk says of `data`: true when it is certainly valid (no violation at all). */
function isCertainlyValidBinary(desc: DescMessage, data: Uint8Array): boolean {
  return topLevelUnknownFields(desc, data, 0)?.count === 0;
}

function variants(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let end = 0; end < data.length; end++) out.push(data.subarray(0, end));
  let seed = data.length;
  for (let i = 0; i < Math.min(200, data.length * 4); i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const copy = Uint8Array.from(data);
    copy[seed % data.length] = (seed >>> 8) & 0xff;
    out.push(copy);
  }
  out.push(Uint8Array.from([...data, 0]), Uint8Array.from([...data, 0x08, 0x01]), Uint8Array.from([...data, 0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01]));
  return out;
}

describe("the Protobuf wire walk", () => {
  it("accepts filled-in messages of open proto3 types, and only what the full decode accepts", () => {
    let accepted = 0;
    for (const desc of messages) {
      const data = toBinary(desc, filled(desc) as never);
      const fast = isCertainlyValidBinary(desc, data);
      expect(fullDecodeAccepts(desc, data), desc.typeName).toBe(true);
      if (desc.file.edition === 999 /* proto3 */ || desc.typeName.startsWith("examples.") || desc.typeName.startsWith("protobus.")) {
        expect(fast, `${desc.typeName} taken by the fast path`).toBe(true);
      }
      if (fast) accepted += 1;
      for (const variant of variants(data)) {
        if (isCertainlyValidBinary(desc, variant)) expect(fullDecodeAccepts(desc, variant), `${desc.typeName} variant ${Buffer.from(variant).toString("hex")}`).toBe(true);
      }
    }
    expect(accepted).toBeGreaterThan(10);
  });

  it("judges the descriptor set itself (proto2, closed enums) no more leniently than the full decode", () => {
    const desc = registry.getMessage("google.protobuf.FileDescriptorSet") as DescMessage;
    const data = new Uint8Array(descriptorSet);
    if (isCertainlyValidBinary(desc, data)) expect(fullDecodeAccepts(desc, data)).toBe(true);
    for (const variant of variants(data.subarray(0, 400))) {
      if (isCertainlyValidBinary(desc, variant)) expect(fullDecodeAccepts(desc, variant)).toBe(true);
    }
  });

  it("names the top-level unknown fields of a payload exactly as the full decode does, in its order, all counted", () => {
    // Unknown fields of every skippable wire type, and two the walk leaves to the full decode (a group, wire type 7).
    const unknowns = [
      [0xf8, 0xff, 0x03, 0x96, 0x01], // field 8191, varint
      [0xf9, 0xff, 0x03, 1, 2, 3, 4, 5, 6, 7, 8], // fixed64
      [0xfa, 0xff, 0x03, 0x03, 0x61, 0x62, 0x63], // length-delimited
      [0xfd, 0xff, 0x03, 9, 9, 9, 9], // fixed32
      [0xfb, 0xff, 0x03, 0xfc, 0xff, 0x03], // an empty group
      [0xff, 0xff, 0x03, 0x00], // wire type 7
    ];
    let byWalk = 0;
    for (const desc of messages) {
      const data = toBinary(desc, filled(desc) as never);
      const payloads: Uint8Array[] = [];
      for (const unknown of unknowns) {
        payloads.push(Uint8Array.from([...unknown, ...data]), Uint8Array.from([...data, ...unknown, ...unknown]));
      }
      payloads.push(Uint8Array.from([...unknowns[0]!, ...data, ...unknowns[2]!, ...unknowns[3]!, ...unknowns[1]!]));
      // Each payload, and flips of bytes in it (the last variants are those).
      for (const [payload, limits] of [...payloads.map((p) => [p, [2, Infinity]] as const), ...payloads.flatMap((p) => variants(p).slice(-8).map((v) => [v, [Infinity]] as const))]) {
        for (const limit of limits) {
          const decoded = checkProtobufBinaryByDecode(desc, payload, limit);
          const checked = checkProtobufBinary(desc, payload, limit);
          expect({ first: checked.first, count: checked.count }, `${desc.typeName} ${Buffer.from(payload).toString("hex")}`).toEqual({
            first: decoded.first,
            count: decoded.count,
          });
          if ((topLevelUnknownFields(desc, payload, limit)?.count ?? 0) > 0) byWalk += 1;
        }
      }
    }
    // The fast path did the judging for most of them.
    expect(byWalk).toBeGreaterThan(500);
  });

  it("counts the 333,333 unknown fields of a megabyte without building the message, describing the first ones", () => {
    const desc = registry.getMessage("protobus.v1.Event") as DescMessage;
    const payload = new Uint8Array(999_999);
    // Field 2047 (two-byte tag, varint) with the value 0, over and over.
    for (let i = 0; i + 3 <= payload.length; i += 3) payload.set([0xf8, 0x7f, 0x00], i);
    const walk = topLevelUnknownFields(desc, payload, 128);
    expect(walk?.count).toBe(333_333);
    expect(walk?.first).toHaveLength(128);
    const checked = checkProtobufBinary(desc, payload, 128);
    expect(checked.count).toBe(333_333);
    expect(checked.first).toHaveLength(128);
    expect(checked.first[0]?.description).toBe(
      "has field number 2047 (varint) that protobus.v1.Event does not define (an unknown field, or trailing bytes)",
    );
    const decoded = checkProtobufBinaryByDecode(desc, payload, 128);
    expect({ first: decoded.first, count: decoded.count }).toEqual({ first: checked.first, count: checked.count });
  });
});
