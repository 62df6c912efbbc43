/**
 * Reading a schema definition: a Protobuf descriptor set with its event
 * message, or a JSON Schema document. A definition that cannot be used for
 * validation is refused at registration, with the reason.
 */
import { createFileRegistry, fromBinary, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { SchemaDraft } from "../storage/schema-store.js";
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
  ) {
    super(message);
    this.name = "DefinitionError";
  }
}

function parseProtobuf(draft: SchemaDraft): ParsedProtobufSchema {
  if (draft.definition.length === 0) throw new DefinitionError("protobuf.file_descriptor_set", "is required");
  let registry: FileRegistry;
  try {
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, draft.definition));
  } catch (error) {
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

function parseJson(draft: SchemaDraft): ParsedJsonSchema {
  const text = new TextDecoder().decode(draft.definition);
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new DefinitionError("json_schema", `is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema))) {
    throw new DefinitionError("json_schema", "must be a JSON object (or a boolean schema)");
  }
  try {
    compileJsonSchema(schema as JsonSchema);
  } catch (error) {
    throw new DefinitionError("json_schema", `is not a valid JSON Schema: ${(error as Error).message}`);
  }
  return { format: "JSON_SCHEMA", draft, schema: schema as JsonSchema };
}

/** Parses and checks a definition; throws a {@link DefinitionError} when it is unusable. */
export function parseDefinition(draft: SchemaDraft): ParsedSchema {
  return draft.format === "PROTOBUF" ? parseProtobuf(draft) : parseJson(draft);
}
