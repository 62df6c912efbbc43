/**
 * JSON Schema validation with ajv: every error reported (`allErrors`),
 * formats from ajv-formats, draft-07 by default and draft 2020-12 when the
 * document's `$schema` says so. Each schema version is compiled once, by the
 * caller that caches the returned function.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import formatsModule from "ajv-formats";
import type { FormatsPlugin } from "ajv-formats";
import type { JsonSchema } from "./schema-definition.js";

// ajv-formats is CommonJS; depending on the loader its plugin is the module or its default.
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ?? formatsModule) as FormatsPlugin;

const OPTIONS = { allErrors: true, strict: false, validateFormats: true } as const;

let draft07: Ajv | undefined;
let draft2020: Ajv2020 | undefined;

function ajvFor(schema: JsonSchema): Ajv | Ajv2020 {
  const dialect = typeof schema === "object" && typeof schema.$schema === "string" ? schema.$schema : "";
  if (dialect.includes("2020-12") || dialect.includes("2019-09")) {
    if (draft2020 === undefined) {
      draft2020 = new Ajv2020(OPTIONS);
      addFormats(draft2020);
    }
    return draft2020;
  }
  if (draft07 === undefined) {
    draft07 = new Ajv(OPTIONS);
    addFormats(draft07);
  }
  return draft07;
}

/** One reason a JSON value does not satisfy a schema. */
export interface JsonViolation {
  /** Dotted path into the value (`task.priority`, `items[2]`), empty for the value itself. */
  readonly path: string;
  /** What is wrong, as ajv words it (`must be <= 9`). */
  readonly description: string;
  /** The JSON Schema keyword that failed (`maximum`, `required`, ...). */
  readonly keyword: string;
}

/** A compiled schema: returns every violation of a value, empty when it is valid. */
export type JsonValidator = (value: unknown) => JsonViolation[];

function appendPath(path: string, segment: string): string {
  if (/^\d+$/.test(segment)) return `${path}[${segment}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(segment)) return path === "" ? segment : `${path}.${segment}`;
  return `${path}[${JSON.stringify(segment)}]`;
}

/** Turns an ajv instance path (`/task/items/0`) into a dotted path (`task.items[0]`). */
export function pointerToPath(pointer: string): string {
  if (pointer === "") return "";
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce(appendPath, "");
}

function toViolation(error: ErrorObject): JsonViolation {
  let path = pointerToPath(error.instancePath);
  let description = error.message ?? `fails ${error.keyword}`;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "required" && typeof params.missingProperty === "string") {
    path = appendPath(path, params.missingProperty);
    description = "is required";
  } else if (error.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    path = appendPath(path, params.additionalProperty);
    description = "is not allowed (the schema has additionalProperties: false)";
  } else if (error.keyword === "enum" && Array.isArray(params.allowedValues)) {
    description = `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return { path, description, keyword: error.keyword };
}

/** Compiles a schema; throws when it is not a valid JSON Schema. */
export function compileJsonSchema(schema: JsonSchema): JsonValidator {
  const ajv = ajvFor(schema);
  // Versions of one subject may share an $id; each compile stands alone.
  const id = typeof schema === "object" ? (schema.$id ?? schema.id) : undefined;
  if (typeof id === "string") ajv.removeSchema(id);
  const validate: ValidateFunction = ajv.compile(schema);
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map(toViolation));
}
