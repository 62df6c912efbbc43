/**
 * The gRPC face of the registry: `protobus.v1.SchemaRegistry` handlers for
 * grpc-js over {@link SchemaRegistry}. A rejected registration answers
 * FAILED_PRECONDITION with a `PreconditionFailure` listing every violation;
 * a malformed request INVALID_ARGUMENT with a `BadRequest`.
 */
import {
  Compatibility,
  Format,
  type CompatibilitySetting,
  type Schema,
  type SchemaRegistryServer,
} from "@protobus/sdk/proto";
import { asCompatibilityMode } from "@protobus/sdk/internal";
import { unary } from "./unary.js";
import { invalidArgument } from "../errors.js";
import type { Logger } from "../logger.js";
import { COMPATIBILITY_MODES, type CompatibilityMode, type StoredSchema } from "../storage/schema-store.js";
import type { CompatibilityInfo, SchemaInput, SchemaRegistry } from "../registry/schema-registry.js";

/** Proto enum value of a mode. */
export function compatibilityToProto(mode: CompatibilityMode): Compatibility {
  return Compatibility[`COMPATIBILITY_${mode}`];
}

/** Mode of a proto enum value; undefined for UNSPECIFIED (or an unknown number). */
export function compatibilityFromProto(value: Compatibility): CompatibilityMode | undefined {
  const name = Compatibility[value]?.replace(/^COMPATIBILITY_/, "");
  return asCompatibilityMode(name);
}

/** The wire form of a stored version. */
export function schemaToProto(schema: StoredSchema): Schema {
  return {
    subject: schema.subject,
    version: schema.version,
    format: schema.format === "PROTOBUF" ? Format.FORMAT_PROTOBUF : Format.FORMAT_JSON_SCHEMA,
    definition:
      schema.format === "PROTOBUF"
        ? { $case: "protobuf", protobuf: { fileDescriptorSet: Buffer.from(schema.definition), messageName: schema.messageName } }
        : { $case: "jsonSchema", jsonSchema: new TextDecoder().decode(schema.definition) },
    createTime: schema.createTime,
    deleted: schema.deleted,
  };
}

/** Reads the schema of a register or check request. */
export function schemaFromProto(schema: Schema | undefined): SchemaInput {
  if (schema === undefined) throw invalidArgument([{ field: "schema", description: "is required", reason: "REQUIRED" }]);
  const definition = schema.definition;
  if (definition === undefined) {
    throw invalidArgument([{ field: "schema.definition", description: "is required: set protobuf or json_schema", reason: "REQUIRED" }]);
  }
  const format = definition.$case === "protobuf" ? Format.FORMAT_PROTOBUF : Format.FORMAT_JSON_SCHEMA;
  if (schema.format !== Format.FORMAT_UNSPECIFIED && schema.format !== format) {
    throw invalidArgument([
      { field: "schema.format", description: `is ${Format[schema.format]} but the definition is ${Format[format]}`, reason: "MISMATCH" },
    ]);
  }
  return definition.$case === "protobuf"
    ? {
        subject: schema.subject,
        format: "PROTOBUF",
        definition: definition.protobuf.fileDescriptorSet,
        messageName: definition.protobuf.messageName,
      }
    : { subject: schema.subject, format: "JSON_SCHEMA", definition: new TextEncoder().encode(definition.jsonSchema), messageName: "" };
}

function settingToProto(info: CompatibilityInfo): CompatibilitySetting {
  return { subject: info.subject, compatibility: compatibilityToProto(info.mode), inherited: info.inherited };
}

function modeFromRequest(value: Compatibility, field: string, allowUnspecified: boolean): CompatibilityMode | undefined {
  const mode = compatibilityFromProto(value);
  if (mode === undefined && (value !== Compatibility.COMPATIBILITY_UNSPECIFIED || !allowUnspecified)) {
    throw invalidArgument([{ field, description: `must be one of ${COMPATIBILITY_MODES.map((m) => `COMPATIBILITY_${m}`).join(", ")}`, reason: "INVALID" }]);
  }
  return mode;
}

/** Builds the grpc-js implementation of `protobus.v1.SchemaRegistry`. */
/** Builds the typed grpc-js implementation of `protobus.v1.SchemaRegistry` (a new RPC without a handler does not compile). */
export function createSchemaRegistryService(registry: SchemaRegistry, logger: Logger): SchemaRegistryServer {
  return {
    registerSchema: unary("RegisterSchema", logger, async (request) => {
      const result = await registry.register(schemaFromProto(request.schema));
      return { schema: schemaToProto(result.schema), alreadyRegistered: result.alreadyRegistered };
    }),
    getSchema: unary("GetSchema", logger, async (request) =>
      schemaToProto(await registry.get(request.subject, request.version === 0 ? undefined : request.version)),
    ),
    listSchemas: unary("ListSchemas", logger, async (request) => ({
      schemas: (await registry.list({ prefix: request.subjectPrefix, includeDeleted: request.includeDeleted })).map(schemaToProto),
    })),
    listVersions: unary("ListVersions", logger, async (request) => ({
      schemas: (await registry.versions(request.subject, request.includeDeleted)).map(schemaToProto),
    })),
    checkCompatibility: unary("CheckCompatibility", logger, async (request) => {
      const result = await registry.check(schemaFromProto(request.schema), modeFromRequest(request.compatibility, "compatibility", true));
      return {
        compatible: result.compatible,
        violations: result.violations.map((v) => ({
          rule: v.rule,
          path: v.path,
          description: v.description,
          version: v.version,
          direction: v.direction,
        })),
        compatibility: compatibilityToProto(result.mode),
        checkedVersions: result.checkedVersions,
      };
    }),
    getCompatibility: unary("GetCompatibility", logger, async (request) =>
      settingToProto(await registry.getCompatibility(request.subject)),
    ),
    setCompatibility: unary("SetCompatibility", logger, async (request) => {
      const mode = modeFromRequest(request.compatibility, "compatibility", request.subject !== "");
      return settingToProto(await registry.setCompatibility(request.subject, mode));
    }),
    deleteSchemaVersion: unary("DeleteSchemaVersion", logger, async (request) =>
      schemaToProto(await registry.deleteVersion(request.subject, request.version)),
    ),
  };
}
