/**
 * Reading a schema definition: a Protobuf descriptor set with its event
 * message, or a JSON Schema document. A definition that cannot be used for
 * validation is refused at registration, with the reason.
 */
import { createFileRegistry, fromBinary, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type DescriptorProto, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import type { InputLimits } from "../limits.js";
import type { SchemaDraft } from "../storage/schema-store.js";
import { checkJsonSchemaLimits, jsonNestingDepth, JsonSchemaLimitError, type SchemaLimitHit } from "./json-schema-limits.js";
import { compileJsonSchema } from "./json-schema-validator.js";

/** A JSON Schema document: an object, or a boolean schema. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/** A usable Protobuf definition. */
export interface ParsedProtobufSchema {
  readonly format: "PROTOBUF";
  readonly draft: SchemaDraft;
  /** Every file of the descriptor set. */
  readonly registry: FileRegistry;
  /** The event's message. */
  readonly message: DescMessage;
}

/** A usable JSON Schema definition. */
export interface ParsedJsonSchema {
  readonly format: "JSON_SCHEMA";
  readonly draft: SchemaDraft;
  /** The parsed document. */
  readonly schema: JsonSchema;
}

/** A definition that parsed and can validate payloads. */
export type ParsedSchema = ParsedProtobufSchema | ParsedJsonSchema;

/** Why a definition is unusable: the field of the Schema message at fault, and why. */
export class DefinitionError extends Error {
  constructor(
    /** `json_schema`, `protobuf.file_descriptor_set` or `protobuf.message_name`. */
    readonly field: string,
    message: string,
    /** The limit it is over, when that is why. */
    readonly hit?: SchemaLimitHit,
  ) {
    super(message);
    this.name = "DefinitionError";
  }
}

function checkBytes(field: string, bytes: number, limits: InputLimits): void {
  if (bytes > limits.maxSchemaBytes) {
    throw new DefinitionError(field, `is ${bytes} bytes, over the limit of ${limits.maxSchemaBytes}`, {
      limit: "max-schema-bytes",
      max: limits.maxSchemaBytes,
      actual: bytes,
    });
  }
}

/** Message and enum types of a descriptor set, nested ones included; stops counting past `max`. */
function countTypes(set: FileDescriptorSet, max: number): number {
  let count = 0;
  const pending: DescriptorProto[] = [];
  for (const file of set.file) {
    count += file.messageType.length + file.enumType.length;
    pending.push(...file.messageType);
  }
  while (pending.length > 0 && count <= max) {
    const message = pending.pop() as DescriptorProto;
    count += message.nestedType.length + message.enumType.length;
    pending.push(...message.nestedType);
  }
  return count;
}

function parseProtobuf(draft: SchemaDraft, limits: InputLimits | undefined): ParsedProtobufSchema {
  if (draft.definition.length === 0) throw new DefinitionError("protobuf.file_descriptor_set", "is required");
  if (limits !== undefined) checkBytes("protobuf.file_descriptor_set", draft.definition.length, limits);
  let registry: FileRegistry;
  try {
    const set = fromBinary(FileDescriptorSetSchema, draft.definition);
    if (limits !== undefined) {
      const types = countTypes(set, limits.maxSchemaMessages);
      if (types > limits.maxSchemaMessages) {
        throw new DefinitionError("protobuf.file_descriptor_set", `defines more than ${limits.maxSchemaMessages} message and enum types`, {
          limit: "max-schema-messages",
          max: limits.maxSchemaMessages,
        });
      }
    }
    registry = createFileRegistry(set);
  } catch (error) {
    if (error instanceof DefinitionError) throw error;
    throw new DefinitionError(
      "protobuf.file_descriptor_set",
      `is not a complete google.protobuf.FileDescriptorSet (build it with \`buf build -o set.binpb\`, imports included): ${(error as Error).message}`,
    );
  }
  if (draft.messageName === "") throw new DefinitionError("protobuf.message_name", "is required");
  const message = registry.getMessage(draft.messageName.replace(/^\./, ""));
  if (message === undefined) {
    const known = [...registry].filter((d) => d.kind === "message").map((d) => d.typeName);
    throw new DefinitionError(
      "protobuf.message_name",
      `message '${draft.messageName}' is not in the descriptor set${known.length > 0 ? ` (it has ${known.slice(0, 10).join(", ")}${known.length > 10 ? ", ..." : ""})` : ""}`,
    );
  }
  return { format: "PROTOBUF", draft, registry, message };
}

function parseJson(draft: SchemaDraft, limits: InputLimits | undefined): ParsedJsonSchema {
  // The cheap bounds come first: a multi-megabyte document is refused before it is decoded or parsed.
  if (limits !== undefined) checkBytes("json_schema", draft.definition.length, limits);
  const text = new TextDecoder().decode(draft.definition);
  if (limits !== undefined) {
    // Raw nesting: a subschema level is at most a keyword object plus a map or list around it.
    const maxRaw = limits.maxSchemaDepth * 3 + 2;
    if (jsonNestingDepth(text, maxRaw) > maxRaw) {
      throw new DefinitionError("json_schema", `nests objects and arrays more than ${maxRaw} deep`, {
        limit: "max-schema-depth",
        max: limits.maxSchemaDepth,
      });
    }
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new DefinitionError("json_schema", `is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema))) {
    throw new DefinitionError("json_schema", "must be a JSON object (or a boolean schema)");
  }
  if (limits !== undefined) {
    try {
      checkJsonSchemaLimits(schema, limits);
    } catch (error) {
      if (!(error instanceof JsonSchemaLimitError)) throw error;
      throw new DefinitionError("json_schema", error.message, error.hit);
    }
  }
  try {
    compileJsonSchema(schema as JsonSchema, draft.definition.length);
  } catch (error) {
    throw new DefinitionError("json_schema", `is not a valid JSON Schema: ${(error as Error).message}`);
  }
  return { format: "JSON_SCHEMA", draft, schema: schema as JsonSchema };
}

/**
 * Parses and checks a definition; throws a {@link DefinitionError} when it is
 * unusable. With `limits` (a registration or a dry run), a definition over
 * one is refused before the costly steps; without (a stored version), it is
 * read as it was accepted.
 */
export function parseDefinition(draft: SchemaDraft, limits?: InputLimits): ParsedSchema {
  return draft.format === "PROTOBUF" ? parseProtobuf(draft, limits) : parseJson(draft, limits);
}
