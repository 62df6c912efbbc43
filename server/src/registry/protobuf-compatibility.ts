/**
 * Protobuf compatibility: what breaks when data written with one message
 * definition is read with another. The rules and their names are those of
 * `buf breaking` with the WIRE_JSON category plus MESSAGE_NO_DELETE and
 * ENUM_NO_DELETE (binary and canonical JSON encodings both keep working),
 * applied to the event's message and every message and enum it reaches
 * through its fields. Types the event message does not reach are not the
 * subject's concern and are not compared.
 *
 * `protobufBreaks(from, to)` lists what breaks a reader using `to` that meets
 * data written with `from`, in buf's terms "`to` against `from`". BACKWARD
 * compares (previous, candidate), FORWARD (candidate, previous).
 */
import type { DescEnum, DescField, DescFile, DescMessage, FileRegistry } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type } from "@bufbuild/protobuf/wkt";
import { BreakCollector } from "./break-collector.js";

/** A Protobuf schema ready for comparison: its registry and event message. */
export interface ProtobufSchema {
  /** Every file of the descriptor set. */
  readonly registry: FileRegistry;
  /** The event's message. */
  readonly message: DescMessage;
  /** How violations name this schema, e.g. `version 3` or `the new schema`. */
  readonly label: string;
}

/** One incompatibility between two Protobuf schemas. */
export interface ProtobufBreak {
  /** buf's rule id, e.g. `FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED`. */
  readonly rule: string;
  /** Fully qualified path of the element: `pkg.Message.field`, `pkg.Enum.VALUE`, `pkg.Message`, a file name. */
  readonly path: string;
  /** What changed, naming both schemas. */
  readonly description: string;
}

// buf's wire+JSON compatibility groups: types in one group can be read as each other.
const TYPE_GROUP: Record<number, number> = {
  [FieldDescriptorProto_Type.INT32]: 1,
  [FieldDescriptorProto_Type.UINT32]: 1,
  [FieldDescriptorProto_Type.INT64]: 2,
  [FieldDescriptorProto_Type.UINT64]: 2,
  [FieldDescriptorProto_Type.FIXED32]: 3,
  [FieldDescriptorProto_Type.SFIXED32]: 3,
  [FieldDescriptorProto_Type.FIXED64]: 4,
  [FieldDescriptorProto_Type.SFIXED64]: 4,
  [FieldDescriptorProto_Type.BOOL]: 5,
  [FieldDescriptorProto_Type.SINT32]: 6,
  [FieldDescriptorProto_Type.SINT64]: 7,
  [FieldDescriptorProto_Type.STRING]: 8,
  [FieldDescriptorProto_Type.BYTES]: 9,
  [FieldDescriptorProto_Type.DOUBLE]: 10,
  [FieldDescriptorProto_Type.FLOAT]: 11,
  [FieldDescriptorProto_Type.GROUP]: 12,
  [FieldDescriptorProto_Type.MESSAGE]: 13,
  [FieldDescriptorProto_Type.ENUM]: 14,
};

type Cardinality = "optional" | "required" | "repeated" | "map";
// Maps and repeated fields have different JSON forms, so they are apart.
const CARDINALITY_GROUP: Record<Cardinality, number> = { optional: 1, required: 2, repeated: 3, map: 4 };

function typeName(type: number): string {
  return (FieldDescriptorProto_Type[type] ?? String(type)).toLowerCase();
}

function cardinality(field: DescField): Cardinality {
  if (field.fieldKind === "list") return "repeated";
  if (field.fieldKind === "map") return "map";
  return field.proto.label === FieldDescriptorProto_Label.REQUIRED ? "required" : "optional";
}

/** The message or enum a field refers to, as buf names it (map fields refer to their entry message). */
function referencedName(field: DescField): string {
  return field.proto.typeName.replace(/^\./, "");
}

/** Files whose JSON support is ALLOW: everything but proto2 (LEGACY_BEST_EFFORT). */
function jsonAllowed(file: DescFile): boolean {
  return file.edition !== 998;
}

function describeField(field: DescField): string {
  return `field ${field.number} "${field.name}"`;
}

/** Every message and enum `root` reaches through its fields (itself included). */
function reachable(root: DescMessage): { messages: DescMessage[]; enums: DescEnum[] } {
  const messages = new Map<string, DescMessage>();
  const enums = new Map<string, DescEnum>();
  const visit = (message: DescMessage): void => {
    if (messages.has(message.typeName)) return;
    messages.set(message.typeName, message);
    for (const field of message.fields) {
      switch (field.fieldKind) {
        case "message":
          visit(field.message);
          break;
        case "enum":
          enums.set(field.enum.typeName, field.enum);
          break;
        case "list":
          if (field.listKind === "message") visit(field.message);
          else if (field.listKind === "enum") enums.set(field.enum.typeName, field.enum);
          break;
        case "map":
          if (field.mapKind === "message") visit(field.message);
          else if (field.mapKind === "enum") enums.set(field.enum.typeName, field.enum);
          break;
        case "scalar":
          break;
      }
    }
  };
  visit(root);
  return { messages: [...messages.values()], enums: [...enums.values()] };
}

interface Range {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

/** The numbers of `ranges` that `cover` does not cover, described; empty when all are covered. */
function uncovered(ranges: readonly Range[], cover: readonly Range[]): string[] {
  const out: string[] = [];
  for (const range of ranges) {
    let next = range.start;
    const sorted = [...cover].sort((a, b) => a.start - b.start);
    for (const c of sorted) {
      if (c.end < next || c.start > range.end) continue;
      if (c.start > next) out.push(next === c.start - 1 ? `${next}` : `${next} to ${c.start - 1}`);
      next = Math.max(next, c.end + 1);
      if (next > range.end) break;
    }
    if (next <= range.end) out.push(next === range.end ? `${next}` : `${next} to ${range.end}`);
  }
  return out;
}

function inRanges(n: number, ranges: readonly Range[]): boolean {
  return ranges.some((r) => n >= r.start && n <= r.end);
}

function messageReserved(message: DescMessage): Range[] {
  // DescriptorProto.ReservedRange has an exclusive end.
  return message.proto.reservedRange.map((r) => ({ start: r.start, end: r.end - 1 }));
}

/** Compares a message or enum of `from` with the one of the same name in `to`; its absence breaks `rule`. */
function compareCounterpart<T extends DescMessage | DescEnum>(
  c: Collector,
  rule: string,
  kind: string,
  element: T,
  counterpart: T | undefined,
  compare: (c: Collector, a: T, b: T) => void,
): void {
  if (counterpart === undefined) {
    c.add(rule, element.typeName, `${kind} ${element.typeName} of ${c.from.label} does not exist in ${c.to.label}`);
  } else {
    compare(c, element, counterpart);
  }
}

function enumReserved(e: DescEnum): Range[] {
  // EnumDescriptorProto.EnumReservedRange has an inclusive end.
  return e.proto.reservedRange.map((r) => ({ start: r.start, end: r.end }));
}

function defaultText(field: DescField): string {
  if (field.fieldKind !== "scalar" && field.fieldKind !== "enum") return "";
  const value = field.getDefaultValue();
  if (value === undefined) return "";
  return value instanceof Uint8Array ? Buffer.from(value).toString("base64") : String(value);
}

type Collector = BreakCollector<ProtobufSchema>;

interface TypeRef {
  /** FieldDescriptorProto.Type number. */
  readonly type: number;
  /** Full name of the message or enum, for those types. */
  readonly name: string;
}

function mapValue(field: DescField): TypeRef {
  if (field.fieldKind !== "map") return { type: field.proto.type, name: referencedName(field) };
  switch (field.mapKind) {
    case "scalar":
      return { type: field.scalar, name: "" };
    case "enum":
      return { type: FieldDescriptorProto_Type.ENUM, name: field.enum.typeName };
    case "message":
      return { type: FieldDescriptorProto_Type.MESSAGE, name: field.message.typeName };
  }
}

function typeText(ref: TypeRef): string {
  return ref.type === FieldDescriptorProto_Type.MESSAGE || ref.type === FieldDescriptorProto_Type.ENUM ? ref.name : typeName(ref.type);
}

function compareType(c: Collector, path: string, what: string, a: TypeRef, b: TypeRef): void {
  const { label: from } = c.from;
  const { label: to } = c.to;
  if (TYPE_GROUP[a.type] !== TYPE_GROUP[b.type]) {
    c.add("FIELD_WIRE_JSON_COMPATIBLE_TYPE", path, `${what} has type ${typeText(a)} in ${from} but ${typeText(b)} in ${to}, which is not wire and JSON compatible`);
  } else if (a.type === FieldDescriptorProto_Type.ENUM && a.name !== b.name) {
    const enumA = c.from.registry.getEnum(a.name);
    const enumB = c.to.registry.getEnum(b.name);
    const sameShortName = enumA?.name === enumB?.name;
    const superset = enumA !== undefined && enumB !== undefined && enumA.values.every((v) => enumB.values.some((w) => w.number === v.number && w.name === v.name));
    if (!sameShortName || !superset) c.add("FIELD_WIRE_JSON_COMPATIBLE_TYPE", path, `${what} has enum type ${a.name} in ${from} but ${b.name} in ${to}`);
  } else if ((a.type === FieldDescriptorProto_Type.MESSAGE || a.type === FieldDescriptorProto_Type.GROUP) && a.name !== b.name) {
    c.add("FIELD_WIRE_JSON_COMPATIBLE_TYPE", path, `${what} has message type ${a.name} in ${from} but ${b.name} in ${to}`);
  }
}

function compareFields(c: Collector, before: DescMessage, a: DescField, b: DescField): void {
  const path = `${before.typeName}.${a.name}`;
  const { label: from } = c.from;
  const { label: to } = c.to;
  if (a.name !== b.name) {
    c.add("FIELD_SAME_NAME", path, `field ${a.number} is named "${a.name}" in ${from} but "${b.name}" in ${to}`);
  }
  if (a.jsonName !== b.jsonName) {
    c.add("FIELD_SAME_JSON_NAME", path, `${describeField(a)} has JSON name "${a.jsonName}" in ${from} but "${b.jsonName}" in ${to}`);
  }
  const oneofA = a.proto.proto3Optional ? undefined : a.oneof?.name;
  const oneofB = b.proto.proto3Optional ? undefined : b.oneof?.name;
  if (oneofA !== oneofB) {
    const where = (name: string | undefined): string => (name === undefined ? "outside any oneof" : `in oneof "${name}"`);
    c.add("FIELD_SAME_ONEOF", path, `${describeField(a)} is ${where(oneofA)} in ${from} but ${where(oneofB)} in ${to}`);
  }
  const cardA = cardinality(a);
  const cardB = cardinality(b);
  if (CARDINALITY_GROUP[cardA] !== CARDINALITY_GROUP[cardB]) {
    c.add("FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY", path, `${describeField(a)} is ${cardA} in ${from} but ${cardB} in ${to}`);
  }
  const typeA = a.proto.type;
  const typeB = b.proto.type;
  if (a.fieldKind === "map" && b.fieldKind === "map") {
    // buf compares the generated entry messages: key (field 1) and value (field 2).
    compareType(c, path, `the key of map ${describeField(a)}`, { type: a.mapKey, name: "" }, { type: b.mapKey, name: "" });
    compareType(c, path, `the value of map ${describeField(a)}`, mapValue(a), mapValue(b));
  } else {
    compareType(c, path, describeField(a), { type: typeA, name: referencedName(a) }, { type: typeB, name: referencedName(b) });
  }
  const defaultA = defaultText(a);
  const defaultB = defaultText(b);
  if (defaultA !== defaultB && TYPE_GROUP[typeA] === TYPE_GROUP[typeB]) {
    c.add("FIELD_SAME_DEFAULT", path, `${describeField(a)} has default ${defaultA || "(none)"} in ${from} but ${defaultB || "(none)"} in ${to}`);
  }
}

/** The reserved numbers and names of a message or an enum. */
interface Reserved {
  readonly ranges: readonly Range[];
  readonly names: readonly string[];
}

/** Reports under `rule` each reserved number range and name of `a` that `b` no longer reserves. */
function compareReserved(c: Collector, rule: string, typeName: string, a: Reserved, b: Reserved): void {
  const missingReserved = uncovered(a.ranges, b.ranges);
  if (missingReserved.length > 0) {
    c.add(rule, typeName, `reserved numbers ${missingReserved.join(", ")} of ${c.from.label} are no longer reserved in ${c.to.label}`);
  }
  for (const name of a.names) {
    if (!b.names.includes(name)) c.add(rule, typeName, `reserved name "${name}" of ${c.from.label} is no longer reserved in ${c.to.label}`);
  }
}

function compareMessages(c: Collector, a: DescMessage, b: DescMessage): void {
  const { label: from } = c.from;
  const { label: to } = c.to;
  const reservedB = messageReserved(b);
  compareReserved(c, "RESERVED_MESSAGE_NO_DELETE", a.typeName, { ranges: messageReserved(a), names: a.proto.reservedName }, { ranges: reservedB, names: b.proto.reservedName });
  const requiredA = new Set(a.fields.filter((f) => f.proto.label === FieldDescriptorProto_Label.REQUIRED).map((f) => f.number));
  const requiredB = new Set(b.fields.filter((f) => f.proto.label === FieldDescriptorProto_Label.REQUIRED).map((f) => f.number));
  for (const n of requiredA) {
    if (!requiredB.has(n)) c.add("MESSAGE_SAME_REQUIRED_FIELDS", a.typeName, `required field ${n} of ${from} is not required in ${to}`);
  }
  for (const n of requiredB) {
    if (!requiredA.has(n)) c.add("MESSAGE_SAME_REQUIRED_FIELDS", a.typeName, `field ${n} is required in ${to} but not in ${from}`);
  }
  if (jsonAllowed(a.file) && !jsonAllowed(b.file)) {
    c.add("MESSAGE_SAME_JSON_FORMAT", a.typeName, `message supports JSON in ${from} but only best-effort JSON in ${to}`);
  }
  for (const fieldA of a.fields) {
    const fieldB = b.fields.find((f) => f.number === fieldA.number);
    if (fieldB === undefined) {
      const path = `${a.typeName}.${fieldA.name}`;
      if (!inRanges(fieldA.number, reservedB)) {
        c.add(
          "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
          path,
          `${describeField(fieldA)} of ${from} is missing in ${to}, which does not reserve number ${fieldA.number}`,
        );
      }
      if (!b.proto.reservedName.includes(fieldA.name)) {
        c.add(
          "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
          path,
          `${describeField(fieldA)} of ${from} is missing in ${to}, which does not reserve the name "${fieldA.name}"`,
        );
      }
      continue;
    }
    compareFields(c, a, fieldA, fieldB);
  }
}

function compareEnums(c: Collector, a: DescEnum, b: DescEnum): void {
  const { label: from } = c.from;
  const { label: to } = c.to;
  const reservedB = enumReserved(b);
  const numbers = new Set(a.values.map((v) => v.number));
  for (const number of numbers) {
    const namesA = a.values.filter((v) => v.number === number).map((v) => v.name);
    const namesB = b.values.filter((v) => v.number === number).map((v) => v.name);
    const path = `${a.typeName}.${namesA[0] ?? number}`;
    if (namesB.length === 0) {
      if (!inRanges(number, reservedB)) {
        c.add(
          "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
          path,
          `value ${number} (${namesA.join(", ")}) of ${from} is missing in ${to}, which does not reserve number ${number}`,
        );
      }
      if (!namesA.every((n) => b.proto.reservedName.includes(n))) {
        c.add(
          "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
          path,
          `value ${number} (${namesA.join(", ")}) of ${from} is missing in ${to}, which does not reserve its name`,
        );
      }
      continue;
    }
    // Aliases may be added; every name a value had must stay.
    if (!namesA.every((n) => namesB.includes(n))) {
      c.add("ENUM_VALUE_SAME_NAME", path, `value ${number} is named ${namesA.join(", ")} in ${from} but ${namesB.join(", ")} in ${to}`);
    }
  }
  compareReserved(c, "RESERVED_ENUM_NO_DELETE", a.typeName, { ranges: enumReserved(a), names: a.proto.reservedName }, { ranges: reservedB, names: b.proto.reservedName });
  if (jsonAllowed(a.file) && !jsonAllowed(b.file)) {
    c.add("ENUM_SAME_JSON_FORMAT", a.typeName, `enum supports JSON in ${from} but only best-effort JSON in ${to}`);
  }
}

/**
 * Everything that breaks when data written with `from` is read with `to`.
 * Empty when `to` can read it all, in binary and in canonical JSON.
 */
export function protobufBreaks(from: ProtobufSchema, to: ProtobufSchema): ProtobufBreak[] {
  const c = new BreakCollector(from, to);
  if (from.message.typeName !== to.message.typeName) {
    c.add(
      "MESSAGE_SAME_NAME",
      from.message.typeName,
      `the event message is ${from.message.typeName} in ${from.label} but ${to.message.typeName} in ${to.label}`,
    );
  }
  const { messages, enums } = reachable(from.message);
  const files = new Map<string, DescFile>();
  for (const message of messages) {
    files.set(message.file.name, message.file);
    compareCounterpart(c, "MESSAGE_NO_DELETE", "message", message, to.registry.getMessage(message.typeName), compareMessages);
  }
  for (const e of enums) {
    files.set(e.file.name, e.file);
    compareCounterpart(c, "ENUM_NO_DELETE", "enum", e, to.registry.getEnum(e.typeName), compareEnums);
  }
  for (const file of files.values()) {
    const counterpart = to.registry.getFile(file.name);
    if (counterpart !== undefined && counterpart.proto.package !== file.proto.package) {
      c.add("FILE_SAME_PACKAGE", file.name, `file ${file.name} has package "${file.proto.package}" in ${from.label} but "${counterpart.proto.package}" in ${to.label}`);
    }
  }
  return c.breaks;
}
