/**
 * A schema version as text a person can read and diff: a JSON Schema
 * pretty-printed, a Protobuf message in .proto syntax together with every
 * message and enum of its set it uses (well-known types left out).
 */
import { createFileRegistry, fromBinary, ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { Schema } from "./gen/protobus/v1/registry_pb.js";

const SCALARS: Record<number, string> = {
  [ScalarType.DOUBLE]: "double",
  [ScalarType.FLOAT]: "float",
  [ScalarType.INT64]: "int64",
  [ScalarType.UINT64]: "uint64",
  [ScalarType.INT32]: "int32",
  [ScalarType.FIXED64]: "fixed64",
  [ScalarType.FIXED32]: "fixed32",
  [ScalarType.BOOL]: "bool",
  [ScalarType.STRING]: "string",
  [ScalarType.BYTES]: "bytes",
  [ScalarType.UINT32]: "uint32",
  [ScalarType.SFIXED32]: "sfixed32",
  [ScalarType.SFIXED64]: "sfixed64",
  [ScalarType.SINT32]: "sint32",
  [ScalarType.SINT64]: "sint64",
};

function typeName(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return SCALARS[field.scalar] ?? "?";
    case "enum":
      return field.enum.typeName;
    case "message":
      return field.message.typeName;
    case "list":
      return field.listKind === "scalar" ? (SCALARS[field.scalar] ?? "?") : field.listKind === "enum" ? field.enum.typeName : field.message.typeName;
    case "map": {
      const value = field.mapKind === "scalar" ? (SCALARS[field.scalar] ?? "?") : field.mapKind === "enum" ? field.enum.typeName : field.message.typeName;
      return `map<${SCALARS[field.mapKey] ?? "?"}, ${value}>`;
    }
  }
}

function fieldLine(field: DescField, indent: string): string {
  const label = field.fieldKind === "list" ? "repeated " : field.proto.proto3Optional ? "optional " : "";
  return `${indent}${label}${typeName(field)} ${field.name} = ${field.number};`;
}

function messageText(message: DescMessage): string[] {
  const lines = [`message ${message.typeName} {`];
  const inOneof = new Set<DescField>();
  for (const oneof of message.oneofs) {
    lines.push(`  oneof ${oneof.name} {`);
    for (const field of oneof.fields) {
      inOneof.add(field);
      lines.push(fieldLine(field, "    "));
    }
    lines.push("  }");
  }
  for (const field of message.fields) if (!inOneof.has(field)) lines.push(fieldLine(field, "  "));
  lines.push("}");
  return lines;
}

function enumText(desc: DescEnum): string[] {
  return [`enum ${desc.typeName} {`, ...desc.values.map((v) => `  ${v.name} = ${v.number};`), "}"];
}

function used(message: DescMessage, messages: Map<string, DescMessage>, enums: Map<string, DescEnum>): void {
  if (messages.has(message.typeName) || message.typeName.startsWith("google.protobuf.")) return;
  messages.set(message.typeName, message);
  for (const field of message.fields) {
    if (field.enum !== undefined && !field.enum.typeName.startsWith("google.protobuf.")) enums.set(field.enum.typeName, field.enum);
    if (field.message !== undefined) used(field.message, messages, enums);
  }
}

/** The text of a Protobuf message and what it uses. */
export function protobufText(fileDescriptorSet: Uint8Array, messageName: string): string {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fileDescriptorSet));
  const root = registry.getMessage(messageName);
  if (root === undefined) return `// the descriptor set has no message ${messageName}`;
  const messages = new Map<string, DescMessage>();
  const enums = new Map<string, DescEnum>();
  used(root, messages, enums);
  const blocks = [...messages.values()].map(messageText);
  for (const desc of [...enums.values()].sort((a, b) => a.typeName.localeCompare(b.typeName))) blocks.push(enumText(desc));
  return blocks.map((b) => b.join("\n")).join("\n\n");
}

/** A schema version's definition as text. */
export function schemaText(schema: Schema): string {
  switch (schema.definition.case) {
    case "protobuf":
      return protobufText(schema.definition.value.fileDescriptorSet, schema.definition.value.messageName);
    case "jsonSchema":
      try {
        return JSON.stringify(JSON.parse(schema.definition.value), null, 2);
      } catch {
        return schema.definition.value;
      }
    default:
      return "";
  }
}
