/**
 * An event's payload as a person reads it: decoded through the schema the
 * server checked it against (the event's type, else the most specific
 * pattern subject, at the event's `schemaVersion`), Protobuf shown as JSON.
 * Schemas are fetched once per subject and version and kept.
 */
import { createFileRegistry, fromBinary, toJson, type DescMessage, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { ApiError, call } from "./api.js";
import { type Event } from "./gen/protobus/v1/event_pb.js";
import { SchemaRegistry, type Schema } from "./gen/protobus/v1/registry_pb.js";

/** A decoded payload, or why it could not be decoded. */
export type DecodedPayload =
  | { readonly kind: "json"; readonly value: JsonValue; readonly schema: string }
  | { readonly kind: "text"; readonly text: string; readonly schema: string }
  | { readonly kind: "empty" }
  | { readonly kind: "error"; readonly message: string };

type Decoder = (event: Event) => DecodedPayload;

const decoders = new Map<string, Promise<Decoder>>();
let subjects: { at: number; list: Promise<string[]> } | undefined;

function patternMatches(pattern: string, type: string): boolean {
  const p = pattern.split(".");
  const t = type.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return t.length > i;
    if (i >= t.length || (p[i] !== "*" && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

/** Subjects that are patterns matching `type`, most specific (most literal tokens) first. */
async function patternSubjects(type: string): Promise<string[]> {
  if (subjects === undefined || Date.now() - subjects.at > 10_000) {
    const list = call(SchemaRegistry.method.listSchemas, {}).then((r) => [...new Set(r.schemas.map((s) => s.subject))]);
    subjects = { at: Date.now(), list };
    list.catch(() => (subjects = undefined));
  }
  const literal = (s: string) => s.split(".").filter((t) => t !== "*" && t !== ">").length;
  return (await subjects.list).filter((s) => (s.includes("*") || s.includes(">")) && patternMatches(s, type)).sort((a, b) => literal(b) - literal(a) || (a.endsWith(">") ? 1 : 0) - (b.endsWith(">") ? 1 : 0));
}

async function schemaOf(type: string, version: number): Promise<Schema | undefined> {
  try {
    return await call(SchemaRegistry.method.getSchema, { subject: type, version });
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "not_found") throw error;
  }
  for (const subject of await patternSubjects(type)) {
    try {
      return await call(SchemaRegistry.method.getSchema, { subject, version });
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== "not_found") throw error;
    }
  }
  return undefined;
}

const text = new TextDecoder();

function isJsonType(contentType: string): boolean {
  const media = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "application/json" || media.endsWith("+json");
}

function plain(event: Event, schema: string): DecodedPayload {
  if (event.data.length === 0) return { kind: "empty" };
  const body = text.decode(event.data);
  if (isJsonType(event.dataContentType)) {
    try {
      return { kind: "json", value: JSON.parse(body) as JsonValue, schema };
    } catch {
      return { kind: "text", text: body, schema };
    }
  }
  return { kind: "text", text: body, schema };
}

function protobufDecoder(schema: Schema, desc: DescMessage, registry: Registry): Decoder {
  const name = `${schema.subject} v${schema.version} (${desc.typeName})`;
  return (event) => {
    if (event.data.length === 0) return { kind: "empty" };
    if (isJsonType(event.dataContentType)) return plain(event, name);
    try {
      return { kind: "json", value: toJson(desc, fromBinary(desc, event.data), { registry }), schema: name };
    } catch (error) {
      return { kind: "error", message: `does not decode as ${desc.typeName}: ${(error as Error).message}` };
    }
  };
}

async function decoderFor(type: string, version: number): Promise<Decoder> {
  const schema = version > 0 ? await schemaOf(type, version) : undefined;
  if (schema === undefined) return (event) => plain(event, "no registered schema");
  if (schema.definition.case === "protobuf") {
    const { fileDescriptorSet, messageName } = schema.definition.value;
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fileDescriptorSet));
    const desc = registry.getMessage(messageName);
    if (desc === undefined) return () => ({ kind: "error", message: `schema ${schema.subject} v${schema.version} has no message ${messageName}` });
    return protobufDecoder(schema, desc, registry);
  }
  return (event) => plain(event, `${schema.subject} v${schema.version} (JSON Schema)`);
}

/** Decodes an event's payload through its registered schema. */
export async function decodePayload(event: Event): Promise<DecodedPayload> {
  const key = `${event.type}@${event.schemaVersion}`;
  let decoder = decoders.get(key);
  if (decoder === undefined) {
    decoder = decoderFor(event.type, event.schemaVersion);
    decoders.set(key, decoder);
    // A failure (the server away for a moment) is not kept.
    decoder.catch(() => decoders.delete(key));
  }
  try {
    return (await decoder)(event);
  } catch (error) {
    return { kind: "error", message: error instanceof ApiError ? error.describe() : (error as Error).message };
  }
}

/** One line of a decoded payload, for a table cell. */
export function payloadSummary(payload: DecodedPayload | undefined): string {
  if (payload === undefined) return "…";
  switch (payload.kind) {
    case "json":
      return JSON.stringify(payload.value);
    case "text":
      return payload.text;
    case "empty":
      return "";
    case "error":
      return `⚠ ${payload.message}`;
  }
}
