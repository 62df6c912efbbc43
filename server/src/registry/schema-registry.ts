/**
 * The schema registry, independent of the transport: registration with
 * compatibility checks, lookups, modes and soft deletes over a
 * `SchemaStore`. The gRPC service in `transport/schema-registry-service.ts` is a thin
 * adapter over it.
 */
import { isValidEventType, patternError } from "@protobus/sdk/internal";
import type { LRUCache } from "lru-cache";
import { failedPrecondition, invalidArgument, limitFieldViolation, notFound, type FieldViolation } from "../errors.js";
import { DEFAULT_INPUT_LIMITS, type InputLimits } from "../limits.js";
import type { CompatibilityMode, SchemaDraft, SchemaStore, StoredSchema } from "../storage/schema-store.js";
import { checkCompatibility, versionsToCheck, type CompatibilityViolation } from "./compatibility.js";
import { DefinitionError, parseDefinition, type ParsedSchema } from "./schema-definition.js";
import { createVersionCache } from "./version-cache.js";

/**
 * The subject of the base schema: a JSON Schema every event's envelope must
 * satisfy (in canonical proto JSON, e.g. `{"required": ["correlationId"]}`),
 * on top of the schema of its type.
 */
export const BASE_SUBJECT = "_base";

/** The mode in effect when neither the subject nor the registry set one. */
export const DEFAULT_COMPATIBILITY: CompatibilityMode = "BACKWARD";

/** A schema to register or check. */
export interface SchemaInput extends SchemaDraft {
  /** Event type, pattern (`agent.task.*`, `agent.>`) or {@link BASE_SUBJECT}. */
  readonly subject: string;
}

/** The outcome of a registration. */
export interface RegisterResult {
  /** The stored version, or the existing identical one. */
  readonly schema: StoredSchema;
  /** True when the latest version already had this definition. */
  readonly alreadyRegistered: boolean;
}

/** The outcome of a dry run. */
export interface CheckResult {
  /** True when registering would succeed. */
  readonly compatible: boolean;
  /** Every violation. */
  readonly violations: CompatibilityViolation[];
  /** The mode applied. */
  readonly mode: CompatibilityMode;
  /** The versions compared with. */
  readonly checkedVersions: number[];
}

/** The mode in effect for a subject (or the registry, for the global mode). */
export interface CompatibilityInfo {
  /** The subject; empty for the global mode. */
  readonly subject: string;
  /** The mode in effect. */
  readonly mode: CompatibilityMode;
  /** True when the subject follows the global mode (or the global mode is the default). */
  readonly inherited: boolean;
}

/** Why a subject is not acceptable, or undefined when it is. */
export function subjectError(subject: string): string | undefined {
  if (subject === BASE_SUBJECT) return undefined;
  if (subject === "") return "is required";
  if (isValidEventType(subject)) return undefined;
  const error = patternError(subject);
  if (error !== undefined) return `must be an event type, a pattern or '${BASE_SUBJECT}': ${error}`;
  if (!subject.includes("*") && !subject.includes(">")) return `must be an event type (two or more lower-case tokens), a pattern or '${BASE_SUBJECT}'`;
  return undefined;
}

function sameDefinition(a: SchemaDraft, b: SchemaDraft): boolean {
  return a.format === b.format && a.messageName === b.messageName && Buffer.from(a.definition).equals(Buffer.from(b.definition));
}

function toPreconditions(violations: readonly CompatibilityViolation[]) {
  return violations.map((v) => ({
    type: v.rule,
    subject: v.path,
    description: `${v.direction} against version ${v.version}: ${v.description}`,
  }));
}

/** Options of {@link SchemaRegistry}. */
export interface SchemaRegistryOptions {
  /** Limits on registered definitions and the memory parsed versions may keep; the defaults when absent. */
  readonly limits?: InputLimits;
}

/** The registry over one store. */
export class SchemaRegistry {
  readonly #store: SchemaStore;
  readonly #limits: InputLimits;
  // Parsed versions by `subject@version`; versions never change once stored.
  readonly #parsed: LRUCache<string, ParsedSchema>;

  constructor(store: SchemaStore, options: SchemaRegistryOptions = {}) {
    this.#store = store;
    this.#limits = options.limits ?? DEFAULT_INPUT_LIMITS;
    this.#parsed = createVersionCache<ParsedSchema>(this.#limits.schemaCacheBytes, (parsed) => parsed.draft.definition.length);
  }

  /** The limits registered definitions are held to. */
  get limits(): InputLimits {
    return this.#limits;
  }

  /** The store the registry keeps its schemas in. */
  get store(): SchemaStore {
    return this.#store;
  }

  /** The parsed form of a stored version, cached. */
  parsed(schema: StoredSchema): ParsedSchema {
    const key = `${schema.subject}@${schema.version}`;
    let parsed = this.#parsed.get(key);
    if (parsed === undefined) {
      parsed = parseDefinition(schema);
      this.#parsed.set(key, parsed);
    }
    return parsed;
  }

  #validateInput(input: SchemaInput, prefix: string): ParsedSchema {
    const violations: FieldViolation[] = [];
    const error = subjectError(input.subject);
    if (error !== undefined) violations.push({ field: `${prefix}.subject`, description: error, reason: "SUBJECT" });
    if (input.subject === BASE_SUBJECT && input.format !== "JSON_SCHEMA") {
      violations.push({
        field: `${prefix}.json_schema`,
        description: `the base schema '${BASE_SUBJECT}' checks the envelope of every event and must be a JSON Schema`,
        reason: "FORMAT",
      });
    }
    let parsed: ParsedSchema | undefined;
    try {
      parsed = parseDefinition(input, this.#limits);
    } catch (e) {
      if (!(e instanceof DefinitionError)) throw e;
      const field = `${prefix}.${e.field}`;
      violations.push(
        e.hit !== undefined
          ? limitFieldViolation({ field, description: e.message, ...e.hit })
          : { field, description: e.message, reason: "DEFINITION" },
      );
    }
    if (violations.length > 0 || parsed === undefined) throw invalidArgument(violations);
    return parsed;
  }

  /**
   * Registers a new version when it is compatible under the subject's mode;
   * otherwise throws FAILED_PRECONDITION listing every violation, and stores
   * nothing. An identical re-registration returns the latest version.
   */
  async register(input: SchemaInput): Promise<RegisterResult> {
    const candidate = this.#validateInput(input, "schema");
    let mode: CompatibilityMode = DEFAULT_COMPATIBILITY;
    const outcome = await this.#store.register<CompatibilityViolation>(input.subject, input, (context) => {
      const latest = context.versions.at(-1);
      if (latest !== undefined && sameDefinition(latest, input)) return { kind: "existing", version: latest.version };
      mode = context.subjectMode ?? context.globalMode ?? DEFAULT_COMPATIBILITY;
      const previous = context.versions.map((v) => ({ version: v.version, parsed: this.parsed(v) }));
      const violations = checkCompatibility(candidate, previous, mode);
      return violations.length > 0 ? { kind: "reject", violations } : { kind: "insert" };
    });
    if (outcome.kind === "rejected") {
      const versions = [...new Set(outcome.violations.map((v) => v.version))].join(", ");
      throw failedPrecondition(
        `schema for '${input.subject}' is not ${mode} compatible with version ${versions}: ${outcome.violations.length} violation${outcome.violations.length === 1 ? "" : "s"}: ${outcome.violations
          .map((v) => `${v.rule} ${v.path}`)
          .join("; ")}`,
        toPreconditions(outcome.violations),
      );
    }
    this.#parsed.set(`${outcome.schema.subject}@${outcome.schema.version}`, candidate);
    return { schema: outcome.schema, alreadyRegistered: outcome.kind === "existing" };
  }

  /** A dry run of {@link register}, optionally under another mode. */
  async check(input: SchemaInput, modeOverride?: CompatibilityMode): Promise<CheckResult> {
    const candidate = this.#validateInput(input, "schema");
    const [versions, subjectMode, globalMode] = await Promise.all([
      this.#store.versions(input.subject),
      this.#store.getCompatibility(input.subject),
      this.#store.getCompatibility(undefined),
    ]);
    const mode = modeOverride ?? subjectMode ?? globalMode ?? DEFAULT_COMPATIBILITY;
    const previous = versions.map((v) => ({ version: v.version, parsed: this.parsed(v) }));
    const violations = checkCompatibility(candidate, previous, mode);
    return {
      compatible: violations.length === 0,
      violations,
      mode,
      checkedVersions: versionsToCheck(mode, previous).map((v) => v.version),
    };
  }

  /** The latest live version, or the given one; NOT_FOUND when there is none. */
  async get(subject: string, version?: number): Promise<StoredSchema> {
    if (subject === "") throw invalidArgument([{ field: "subject", description: "is required", reason: "REQUIRED" }]);
    const schema = await this.#store.get(subject, version);
    if (schema === undefined) throw notFound("schema", version === undefined ? subject : `${subject} version ${version}`);
    return schema;
  }

  /** The latest version of every subject starting with `prefix`. */
  async list(options: { readonly prefix?: string; readonly includeDeleted?: boolean } = {}): Promise<StoredSchema[]> {
    const all = await this.#store.list({ includeDeleted: options.includeDeleted === true });
    const prefix = options.prefix ?? "";
    return prefix === "" ? all : all.filter((s) => s.subject.startsWith(prefix));
  }

  /** Every version of a subject, oldest first; NOT_FOUND when it has none. */
  async versions(subject: string, includeDeleted = false): Promise<StoredSchema[]> {
    if (subject === "") throw invalidArgument([{ field: "subject", description: "is required", reason: "REQUIRED" }]);
    const versions = await this.#store.versions(subject, { includeDeleted });
    if (versions.length === 0) throw notFound("subject", subject);
    return versions;
  }

  /** The mode in effect for a subject, or the global one when `subject` is empty. */
  async getCompatibility(subject: string): Promise<CompatibilityInfo> {
    const globalMode = await this.#store.getCompatibility(undefined);
    if (subject === "") return { subject, mode: globalMode ?? DEFAULT_COMPATIBILITY, inherited: globalMode === undefined };
    const own = await this.#store.getCompatibility(subject);
    return { subject, mode: own ?? globalMode ?? DEFAULT_COMPATIBILITY, inherited: own === undefined };
  }

  /**
   * Sets the mode of a subject (or the global one for an empty subject);
   * `undefined` clears it so that it inherits again.
   */
  async setCompatibility(subject: string, mode: CompatibilityMode | undefined): Promise<CompatibilityInfo> {
    if (subject !== "") {
      const error = subjectError(subject);
      if (error !== undefined) throw invalidArgument([{ field: "subject", description: error, reason: "SUBJECT" }]);
    }
    await this.#store.setCompatibility(subject === "" ? undefined : subject, mode);
    return this.getCompatibility(subject);
  }

  /** Soft-deletes a version; NOT_FOUND when it does not exist. */
  async deleteVersion(subject: string, version: number): Promise<StoredSchema> {
    const violations: FieldViolation[] = [];
    if (subject === "") violations.push({ field: "subject", description: "is required", reason: "REQUIRED" });
    if (version <= 0) violations.push({ field: "version", description: "is required (1 or more)", reason: "REQUIRED" });
    if (violations.length > 0) throw invalidArgument(violations);
    const deleted = await this.#store.softDelete(subject, version);
    if (deleted === undefined) throw notFound("schema", `${subject} version ${version}`);
    return deleted;
  }
}
