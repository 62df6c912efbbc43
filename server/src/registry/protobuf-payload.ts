/**
 * Checks a Protobuf payload against its registered message with
 * @bufbuild/protobuf reflection: binary (`application/protobuf`) or
 * canonical proto JSON (`application/json`). Unknown fields, malformed
 * bytes and trailing garbage are violations, each named by its path in the
 * payload.
 */
import { fromBinary, fromJson, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { NO_VIOLATIONS, allDescribed, type JsonViolation, type JsonViolations } from "./json-schema-validator.js";
import { topLevelUnknownFields } from "./protobuf-wire-check.js";
import { NotJson, parseJsonPayload } from "./json-payload.js";

/** One violation, path relative to the payload (empty for the payload itself). */
export type PayloadViolation = JsonViolation;

type Plain = Record<string, unknown> & { $unknown?: { no: number; wireType: number }[] };

// Per message: the members that can hold nested messages (the others need no walk).
interface WalkPlan {
  readonly fields: DescField[];
  readonly oneofs: { localName: string; fields: Map<string, DescField> }[];
}

const plans = new WeakMap<DescMessage, WalkPlan>();

/**
 * The violations of one payload: every one counted, the first `limit`
 * described (a payload of a megabyte can hold half a million unknown
 * fields; describing each cost more than decoding them all).
 */
class Found implements JsonViolations {
  readonly first: PayloadViolation[] = [];
  count = 0;

  constructor(readonly limit: number) {}

  /** Counts a violation, and describes it while fewer than `limit` are. */
  add(describe: () => PayloadViolation): void {
    this.count += 1;
    if (this.first.length < this.limit) this.first.push(describe());
  }
}

/** The violation of an unknown field (or of trailing bytes read as one) in a message of `desc` at `path`. */
function unknownField(desc: DescMessage, path: string, no: number, wireType: number): PayloadViolation {
  return {
    path,
    description: `has field number ${no} (${WIRE_TYPES[wireType] ?? `wire type ${wireType}`}) that ${desc.typeName} does not define (an unknown field, or trailing bytes)`,
    keyword: "unknown_field",
  };
}

function holdsMessages(field: DescField): boolean {
  return (
    field.fieldKind === "message" ||
    (field.fieldKind === "list" && field.listKind === "message") ||
    (field.fieldKind === "map" && field.mapKind === "message")
  );
}

function planOf(desc: DescMessage): WalkPlan {
  let plan = plans.get(desc);
  if (plan === undefined) {
    const fields: DescField[] = [];
    const oneofs: WalkPlan["oneofs"] = [];
    for (const member of desc.members) {
      if (member.kind === "oneof") {
        const nested = member.fields.filter(holdsMessages);
        if (nested.length > 0) oneofs.push({ localName: member.localName, fields: new Map(nested.map((f) => [f.localName, f])) });
      } else if (holdsMessages(member)) fields.push(member);
    }
    plan = { fields, oneofs };
    plans.set(desc, plan);
  }
  return plan;
}

function join(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

const WIRE_TYPES = ["varint", "fixed64", "length-delimited", "start-group", "end-group", "fixed32"];

function walkField(field: DescField, value: unknown, path: string, out: Found): void {
  if (value === undefined || value === null || field.message === undefined) return;
  if (field.fieldKind === "list") {
    (value as Plain[]).forEach((item, i) => findUnknown(field.message as DescMessage, item, `${path}[${i}]`, out));
  } else if (field.fieldKind === "map") {
    for (const [key, item] of Object.entries(value as Record<string, Plain>)) findUnknown(field.message as DescMessage, item, `${path}[${JSON.stringify(key)}]`, out);
  } else {
    findUnknown(field.message, value as Plain, path, out);
  }
}

function findUnknown(desc: DescMessage, message: Plain, path: string, out: Found): void {
  const unknown = message.$unknown;
  if (unknown !== undefined) {
    for (const u of unknown) out.add(() => unknownField(desc, path, u.no, u.wireType));
  }
  const plan = planOf(desc);
  for (const field of plan.fields) walkField(field, message[field.localName], join(path, field.name), out);
  for (const oneof of plan.oneofs) {
    const selected = message[oneof.localName] as { case?: string; value?: unknown } | undefined;
    const field = selected?.case === undefined ? undefined : oneof.fields.get(selected.case);
    if (field !== undefined) walkField(field, selected?.value, join(path, field.name), out);
  }
}

/**
 * Checks binary Protobuf: it must decode, and hold no field the message
 * does not define. Describes the first `limit` violations (default: all).
 */
export function checkProtobufBinary(desc: DescMessage, data: Uint8Array, limit = Number.POSITIVE_INFINITY): JsonViolations {
  // Nearly every payload is valid, and a payload of unknown fields is
  // judged as well: the wire walk says so without building the message.
  const unknown = topLevelUnknownFields(desc, data, limit);
  if (unknown === undefined) return checkProtobufBinaryByDecode(desc, data, limit);
  if (unknown.count === 0) return NO_VIOLATIONS;
  return { first: unknown.first.map((u) => unknownField(desc, "", u.no, u.wireType)), count: unknown.count };
}

/** {@link checkProtobufBinary} by the full decode alone; what the wire walk must agree with. */
export function checkProtobufBinaryByDecode(desc: DescMessage, data: Uint8Array, limit = Number.POSITIVE_INFINITY): JsonViolations {
  let message: Plain;
  try {
    message = fromBinary(desc, data, { readUnknownFields: true }) as unknown as Plain;
  } catch (error) {
    return allDescribed([{ path: "", description: `is not a valid binary ${desc.typeName}: ${(error as Error).message}`, keyword: "decode" }]);
  }
  const out = new Found(limit);
  findUnknown(desc, message, "", out);
  return out;
}

const WELL_KNOWN = "google.protobuf.";

// JSON keys a message accepts: the JSON name and the proto name of every field.
const jsonKeys = new WeakMap<DescMessage, Map<string, DescField>>();

function keysOf(desc: DescMessage): Map<string, DescField> {
  let keys = jsonKeys.get(desc);
  if (keys === undefined) {
    keys = new Map();
    for (const field of desc.fields) {
      keys.set(field.jsonName, field);
      keys.set(field.name, field);
    }
    jsonKeys.set(desc, keys);
  }
  return keys;
}

function findUnknownKeys(desc: DescMessage, value: unknown, path: string, out: Found): void {
  // Well-known types have their own JSON forms; fromJson checks those.
  if (desc.typeName.startsWith(WELL_KNOWN)) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return;
  const keys = keysOf(desc);
  for (const [key, item] of Object.entries(value)) {
    const field = keys.get(key);
    if (field === undefined) {
      out.add(() => ({ path: join(path, key), description: `is not a field of ${desc.typeName}`, keyword: "unknown_field" }));
      continue;
    }
    if (item === null || field.message === undefined) continue;
    const at = join(path, field.name);
    if (field.fieldKind === "list" && Array.isArray(item)) {
      item.forEach((element, i) => findUnknownKeys(field.message as DescMessage, element, `${at}[${i}]`, out));
    } else if (field.fieldKind === "map" && typeof item === "object") {
      for (const [k, element] of Object.entries(item as object)) findUnknownKeys(field.message, element, `${at}[${JSON.stringify(k)}]`, out);
    } else if (field.fieldKind === "message") {
      findUnknownKeys(field.message, item, at, out);
    }
  }
}

/** Where in `value` the field `fullName` occurs first (walking along `desc`), or undefined. */
function locateField(desc: DescMessage, value: unknown, fullName: string, path: string): string | undefined {
  if (desc.typeName.startsWith(WELL_KNOWN) || typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const keys = keysOf(desc);
  for (const [key, item] of Object.entries(value)) {
    const field = keys.get(key);
    if (field === undefined) continue;
    const at = join(path, field.name);
    if (`${desc.typeName}.${field.name}` === fullName) return at;
    if (item === null || field.message === undefined) continue;
    let found: string | undefined;
    if (field.fieldKind === "list" && Array.isArray(item)) {
      for (let i = 0; i < item.length && found === undefined; i++) found = locateField(field.message, item[i], fullName, `${at}[${i}]`);
    } else if (field.fieldKind === "map" && typeof item === "object") {
      for (const [k, element] of Object.entries(item as object)) {
        found ??= locateField(field.message, element, fullName, `${at}[${JSON.stringify(k)}]`);
      }
    } else if (field.fieldKind === "message") {
      found = locateField(field.message, item, fullName, at);
    }
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The payload path of the field a @bufbuild/protobuf JSON error names. */
function pathFromJsonError(desc: DescMessage, value: unknown, message: string): string {
  const match = /cannot decode field ([\w.]+) from JSON/.exec(message);
  if (match === null) return "";
  return locateField(desc, value, match[1] ?? "", "") ?? "";
}

/**
 * Checks canonical proto JSON: it must parse as JSON, name only known
 * fields, and decode. Describes the first `limit` violations (default: all).
 */
export function checkProtobufJson(desc: DescMessage, data: Uint8Array, limit = Number.POSITIVE_INFINITY): JsonViolations {
  const value = parseJsonPayload(data);
  if (value instanceof NotJson) return allDescribed([value.violation]);
  const out = new Found(limit);
  findUnknownKeys(desc, value, "", out);
  if (out.count > 0) return out;
  try {
    fromJson(desc, value as JsonValue, { ignoreUnknownFields: false });
  } catch (error) {
    const message = (error as Error).message;
    return allDescribed([{ path: pathFromJsonError(desc, value, message), description: `is not valid proto JSON for ${desc.typeName}: ${message}`, keyword: "decode" }]);
  }
  return NO_VIOLATIONS;
}
