/**
 * The schema registry client: register, read and check the schemas a
 * protobus server validates publishes against.
 */
import { Compatibility, Format, SchemaRegistryClient as RawRegistryClient, type RegisterSchemaResponse, type Schema } from "./gen/protobus/v1/registry.pb.js";
import { createUnaryCaller } from "./unary-call.js";
import type { CompatibilityMode } from "./compatibility-mode.js";
import { clientConnection, type ConnectionOptions } from "./transport/client-transport.js";

/**
 * A schema definition: a Protobuf message in a serialized
 * `google.protobuf.FileDescriptorSet` (as `buf build -o set.binpb` writes it,
 * imports included), or a JSON Schema (an object or its text).
 */
export type SchemaDefinition =
  | { readonly protobuf: { readonly fileDescriptorSet: Uint8Array; readonly messageName: string } }
  | { readonly jsonSchema: string | object | boolean };

/** One registered version. */
export interface RegisteredSchema {
  /** Event type, pattern, or `_base`. */
  readonly subject: string;
  /** 1, 2, ... per subject. */
  readonly version: number;
  /** The schema language. */
  readonly format: "PROTOBUF" | "JSON_SCHEMA";
  /** The definition as registered. */
  readonly definition: SchemaDefinition;
  /** When it was registered. */
  readonly createTime: Date | undefined;
  /** True once soft-deleted. */
  readonly deleted: boolean;
}

/** One reason a schema is not compatible. */
export interface SchemaViolation {
  /** The rule broken, e.g. `FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED`, `JSON_REQUIRED_ADDED`. */
  readonly rule: string;
  /** Fully qualified Protobuf path or JSON pointer. */
  readonly path: string;
  /** Old versus new. */
  readonly description: string;
  /** The existing version compared with. */
  readonly version: number;
  /** `BACKWARD` or `FORWARD`. */
  readonly direction: string;
}

/** The outcome of a dry run. */
export interface CompatibilityReport {
  /** True when registering would succeed. */
  readonly compatible: boolean;
  /** Every violation. */
  readonly violations: SchemaViolation[];
  /** The mode applied. */
  readonly mode: CompatibilityMode;
  /** The versions compared with. */
  readonly checkedVersions: number[];
}

/** The mode in effect for a subject, or the global one. */
export interface CompatibilitySettingInfo {
  /** The subject; empty for the global mode. */
  readonly subject: string;
  /** The mode in effect. */
  readonly mode: CompatibilityMode;
  /** True when it follows the global mode (or the default, BACKWARD). */
  readonly inherited: boolean;
}

/** Options of {@link createRegistryClient}. */
export interface RegistryClientOptions extends ConnectionOptions {
  /** Deadline of calls in ms (default 30 s). */
  readonly timeoutMs?: number;
}

/** A connection to a server's schema registry. */
export interface RegistryClient {
  /**
   * Registers a new version of a subject's schema. Throws FAILED_PRECONDITION
   * (with `preconditionViolations` naming each broken rule) when it is not
   * compatible under the subject's mode.
   */
  register(subject: string, definition: SchemaDefinition): Promise<{ schema: RegisteredSchema; alreadyRegistered: boolean }>;
  /** The latest version, or the given one; throws NOT_FOUND. */
  get(subject: string, version?: number): Promise<RegisteredSchema>;
  /** The latest version of every subject. */
  list(options?: { readonly prefix?: string; readonly includeDeleted?: boolean }): Promise<RegisteredSchema[]>;
  /** Every version of a subject, oldest first. */
  versions(subject: string, options?: { readonly includeDeleted?: boolean }): Promise<RegisteredSchema[]>;
  /** A dry run of `register`, optionally under another mode. */
  check(subject: string, definition: SchemaDefinition, options?: { readonly mode?: CompatibilityMode }): Promise<CompatibilityReport>;
  /** The mode of a subject; the global mode when `subject` is omitted. */
  getCompatibility(subject?: string): Promise<CompatibilitySettingInfo>;
  /** Sets the mode of a subject (or, with `undefined` subject, the global one); `undefined` mode makes the subject inherit. */
  setCompatibility(subject: string | undefined, mode: CompatibilityMode | undefined): Promise<CompatibilitySettingInfo>;
  /** Soft-deletes a version. */
  deleteVersion(subject: string, version: number): Promise<RegisteredSchema>;
  /** Closes the channel. */
  close(): void;
  /** The generated grpc-js client. */
  readonly raw: RawRegistryClient;
}

function toProtoSchema(subject: string, definition: SchemaDefinition): Schema {
  return {
    subject,
    version: 0,
    format: Format.FORMAT_UNSPECIFIED,
    definition:
      "protobuf" in definition
        ? { $case: "protobuf", protobuf: { fileDescriptorSet: Buffer.from(definition.protobuf.fileDescriptorSet), messageName: definition.protobuf.messageName } }
        : {
            $case: "jsonSchema",
            jsonSchema: typeof definition.jsonSchema === "string" ? definition.jsonSchema : JSON.stringify(definition.jsonSchema),
          },
    createTime: undefined,
    deleted: false,
  };
}

function fromProtoSchema(schema: Schema): RegisteredSchema {
  const definition: SchemaDefinition =
    schema.definition?.$case === "protobuf"
      ? { protobuf: { fileDescriptorSet: new Uint8Array(schema.definition.protobuf.fileDescriptorSet), messageName: schema.definition.protobuf.messageName } }
      : { jsonSchema: schema.definition?.$case === "jsonSchema" ? schema.definition.jsonSchema : "" };
  return {
    subject: schema.subject,
    version: schema.version,
    format: schema.format === Format.FORMAT_PROTOBUF ? "PROTOBUF" : "JSON_SCHEMA",
    definition,
    createTime: schema.createTime,
    deleted: schema.deleted,
  };
}

function modeToProto(mode: CompatibilityMode | undefined): Compatibility {
  return mode === undefined ? Compatibility.COMPATIBILITY_UNSPECIFIED : Compatibility[`COMPATIBILITY_${mode}`];
}

function modeFromProto(value: Compatibility): CompatibilityMode {
  return (Compatibility[value] ?? "COMPATIBILITY_BACKWARD").replace(/^COMPATIBILITY_/, "") as CompatibilityMode;
}

/**
 * Connects to the schema registry of a protobus server.
 *
 * @example
 * const registry = createRegistryClient({ address: "127.0.0.1:50051" });
 * await registry.register("agent.task.created", {
 *   jsonSchema: { type: "object", required: ["taskId"], properties: { taskId: { type: "string" } } },
 * });
 */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const { target, credentials, clientOptions } = clientConnection(options, { "grpc.max_receive_message_length": -1 });
  const raw = new RawRegistryClient(target, credentials, clientOptions);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let closed = false;
  const call = createUnaryCaller(() => closed, timeoutMs);
  const setting = (s: { subject: string; compatibility: Compatibility; inherited: boolean }): CompatibilitySettingInfo => ({
    subject: s.subject,
    mode: modeFromProto(s.compatibility),
    inherited: s.inherited,
  });
  return {
    raw,
    async register(subject, definition) {
      const response = await call<RegisterSchemaResponse>((md, opts, cb) =>
        raw.registerSchema({ schema: toProtoSchema(subject, definition) }, md, opts, cb),
      );
      return { schema: fromProtoSchema(response.schema as Schema), alreadyRegistered: response.alreadyRegistered };
    },
    async get(subject, version) {
      return fromProtoSchema(await call<Schema>((md, opts, cb) => raw.getSchema({ subject, version: version ?? 0 }, md, opts, cb)));
    },
    async list(listOptions = {}) {
      const response = await call<{ schemas: Schema[] }>((md, opts, cb) =>
        raw.listSchemas({ subjectPrefix: listOptions.prefix ?? "", includeDeleted: listOptions.includeDeleted ?? false }, md, opts, cb),
      );
      return response.schemas.map(fromProtoSchema);
    },
    async versions(subject, versionOptions = {}) {
      const response = await call<{ schemas: Schema[] }>((md, opts, cb) => raw.listVersions({ subject, includeDeleted: versionOptions.includeDeleted ?? false }, md, opts, cb));
      return response.schemas.map(fromProtoSchema);
    },
    async check(subject, definition, checkOptions = {}) {
      const response = await call<{ compatible: boolean; violations: SchemaViolation[]; compatibility: Compatibility; checkedVersions: number[] }>(
        (md, opts, cb) => raw.checkCompatibility({ schema: toProtoSchema(subject, definition), compatibility: modeToProto(checkOptions.mode) }, md, opts, cb),
      );
      return {
        compatible: response.compatible,
        violations: response.violations.map((v) => ({ rule: v.rule, path: v.path, description: v.description, version: v.version, direction: v.direction })),
        mode: modeFromProto(response.compatibility),
        checkedVersions: response.checkedVersions,
      };
    },
    async getCompatibility(subject) {
      return setting(await call((md, opts, cb) => raw.getCompatibility({ subject: subject ?? "" }, md, opts, cb)));
    },
    async setCompatibility(subject, mode) {
      return setting(await call((md, opts, cb) => raw.setCompatibility({ subject: subject ?? "", compatibility: modeToProto(mode) }, md, opts, cb)));
    },
    async deleteVersion(subject, version) {
      return fromProtoSchema(await call<Schema>((md, opts, cb) => raw.deleteSchemaVersion({ subject, version }, md, opts, cb)));
    },
    close() {
      closed = true;
      raw.close();
    },
  };
}
