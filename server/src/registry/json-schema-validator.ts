/**
 * JSON Schema validation with ajv: every error reported (`allErrors`),
 * formats from ajv-formats, draft-07 by default and draft 2020-12 when the
 * document's `$schema` says so. Each schema version is compiled once, by the
 * caller that caches the returned function.
 *
 * Hardened against hostile schemas and payloads: `pattern` and
 * `patternProperties` run on RE2 (linear time, see linear-regex.ts);
 * `uniqueItems` is checked in linear time (a structural hash of each
 * item) instead of ajv's pairwise comparison; a payload nested deeper than
 * the stack allows is a violation, not a crash. ajv keeps what it compiles
 * (its schema cache and code scope) for the life of an instance, so an
 * instance is replaced after a bounded amount of compiling: a compiled
 * validator keeps its own instance alive, and nothing else does.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import formatsModule from "ajv-formats";
import type { FormatsPlugin } from "ajv-formats";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { compileLinearRegex } from "../regex/linear-regex.js";
import type { JsonSchema } from "./schema-definition.js";

// ajv-formats is CommonJS; depending on the loader its plugin is the module or its default.
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ?? formatsModule) as FormatsPlugin;

// Patterns were checked against the size limit before compiling (json-schema-limits.ts);
// here RE2 only has to run them. A stored schema is compiled the same way.
const re2Engine = Object.assign((pattern: string) => compileLinearRegex(pattern, Number.MAX_SAFE_INTEGER), { code: "compileLinearRegex" });

const OPTIONS = { allErrors: true, strict: false, validateFormats: true, code: { regExp: re2Engine } } as const;

// 32-bit mixing (FNV-1a steps, then a finalizer) for the structural hash below.
function mix(hash: number, value: number): number {
  return Math.imul(hash ^ value, 0x01000193) >>> 0;
}

function hashString(hash: number, text: string): number {
  let h = mix(hash, text.length);
  for (let i = 0; i < text.length; i++) h = mix(h, text.charCodeAt(i));
  return h;
}

/**
 * A hash of a JSON value under `uniqueItems` equality: equal values (object
 * keys in any order) hash alike. Object members are combined by addition, so
 * that key order does not matter, with no sorting and no allocation.
 */
function hashJson(value: unknown, seed: number): number {
  switch (typeof value) {
    case "string":
      return hashString(mix(seed, 1), value);
    case "number":
      // 1 and 1.0 are one number; -0 equals 0.
      return (value | 0) === value ? mix(mix(seed, 2), value) : hashString(mix(seed, 9), String(value));
    case "boolean":
      return mix(seed, value ? 3 : 4);
    case "object": {
      if (value === null) return mix(seed, 5);
      if (Array.isArray(value)) {
        let h = mix(mix(seed, 6), value.length);
        for (const item of value) h = hashJson(item, h);
        return h;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      let sum = 0;
      for (const key of keys) sum = (sum + hashJson(record[key], hashString(0x811c9dc5, key))) >>> 0;
      return mix(mix(mix(seed, 7), keys.length), sum);
    }
    default:
      return mix(seed, 8);
  }
}

/** A canonical text of a JSON value: equal values give equal texts (object keys sorted). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`)
      .join(",")}}`;
  }
  return typeof value === "number" && value === 0 ? "0" : (JSON.stringify(value) ?? "null");
}

/** Deep equality of JSON values, as `uniqueItems` defines it. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => jsonEqual(item, other[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  return keys.every((k) => Object.prototype.hasOwnProperty.call(y, k) && jsonEqual(x[k], y[k]));
}

interface UniqueItemsCheck {
  (schema: boolean, data: unknown): boolean;
  errors?: Partial<ErrorObject>[];
}

// Unequal items with equal hashes tolerated before the check switches to canonical texts.
const MAX_COLLISIONS = 32;

function duplicateFound(uniqueItemsCheck: UniqueItemsCheck, j: number, i: number): false {
  uniqueItemsCheck.errors = [{ keyword: "uniqueItems", message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)`, params: { i, j } }];
  return false;
}

/**
 * `uniqueItems` in linear time: each item is hashed once (a walk of its
 * value) and only items with equal hashes are compared, instead of ajv's
 * comparison of every pair. The hash is not secret, so a payload built to
 * collide could make the comparisons quadratic again: past a few
 * collisions the check starts over keyed by each item's canonical text
 * (sorted keys) in a Map, whose hashing is the engine's own.
 */
const uniqueItems: UniqueItemsCheck = (schema, data) => {
  uniqueItems.errors = [];
  if (!schema || !Array.isArray(data)) return true;
  const seen = new Map<number, number[]>();
  let collisions = 0;
  for (let i = 0; i < data.length; i++) {
    const item: unknown = data[i];
    const hash = hashJson(item, 0x811c9dc5);
    const same = seen.get(hash);
    if (same === undefined) {
      seen.set(hash, [i]);
      continue;
    }
    for (const k of same) {
      if (jsonEqual(data[k], item)) return duplicateFound(uniqueItems, k, i);
      collisions += 1;
    }
    if (collisions > MAX_COLLISIONS) break;
    same.push(i);
  }
  if (collisions <= MAX_COLLISIONS) return true;
  const texts = new Map<string, number>();
  for (let i = 0; i < data.length; i++) {
    const key = canonical(data[i]);
    const j = texts.get(key);
    if (j !== undefined) return duplicateFound(uniqueItems, j, i);
    texts.set(key, i);
  }
  return true;
};

interface StringFormat {
  validate: (value: string) => boolean;
  compare?: (a: string, b: string) => number | undefined;
}

const dateFormat = fullFormats.date as StringFormat;
const timeFormat = fullFormats.time as StringFormat;
const dateTimeFormat = fullFormats["date-time"] as StringFormat;
const DATE_TIME_SEPARATOR = /[t\s]/i;

/**
 * ajv-formats' `date-time`, without its `split` (an array and two strings
 * per value, half of what the format cost): that format holds when the
 * value splits at `t`, `T` or whitespace into exactly two parts, a `date`
 * and a `time`. A `date` is exactly 10 characters, none of them a
 * separator, and a `time` has no separator either, so the value must have
 * its one separator at index 10: the same parts, checked by the same two
 * functions (test/registry/date-time-format.test.ts compares both).
 */
export function isDateTime(value: string): boolean {
  return value.length > 11 && DATE_TIME_SEPARATOR.test(value.charAt(10)) && dateFormat.validate(value.slice(0, 10)) && timeFormat.validate(value.slice(11));
}

/** ajv-formats' own `date-time` check, for the test that compares it with {@link isDateTime}. */
export const formatsDateTime = (value: string): boolean => dateTimeFormat.validate(value);

function newInstance(draft2020: boolean): Ajv | Ajv2020 {
  const ajv = draft2020 ? new Ajv2020(OPTIONS) : new Ajv(OPTIONS);
  addFormats(ajv);
  ajv.addFormat("date-time", { type: "string", validate: isDateTime, ...(dateTimeFormat.compare !== undefined ? { compare: dateTimeFormat.compare } : {}) });
  ajv.removeKeyword("uniqueItems");
  ajv.addKeyword({ keyword: "uniqueItems", type: "array", schemaType: "boolean", validate: uniqueItems, errors: true });
  return ajv;
}

// An instance is replaced after this much compiling (what it keeps grows with it).
const ROTATE_AFTER_COMPILES = 200;
const ROTATE_AFTER_BYTES = 4 * 1024 * 1024;

interface Generation {
  readonly ajv: Ajv | Ajv2020;
  compiles: number;
  bytes: number;
}

const generations: { draft07?: Generation; draft2020?: Generation } = {};

function generationFor(schema: JsonSchema): Generation {
  const dialect = typeof schema === "object" && typeof schema.$schema === "string" ? schema.$schema : "";
  const key = dialect.includes("2020-12") || dialect.includes("2019-09") ? "draft2020" : "draft07";
  let generation = generations[key];
  if (generation === undefined || generation.compiles >= ROTATE_AFTER_COMPILES || generation.bytes >= ROTATE_AFTER_BYTES) {
    generation = { ajv: newInstance(key === "draft2020"), compiles: 0, bytes: 0 };
    generations[key] = generation;
  }
  return generation;
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

/**
 * Compiles a schema; throws when it is not a valid JSON Schema. `sizeHint`
 * (the definition's bytes) tells how much the compiling instance keeps.
 * ajv's own cache does not keep the schema: only the returned function does.
 */
export function compileJsonSchema(schema: JsonSchema, sizeHint = 0): JsonValidator {
  const generation = generationFor(schema);
  const ajv = generation.ajv;
  generation.compiles += 1;
  generation.bytes += sizeHint;
  // Versions of one subject may share an $id; each compile stands alone.
  const id = typeof schema === "object" ? (schema.$id ?? schema.id) : undefined;
  if (typeof id === "string") ajv.removeSchema(id);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } finally {
    if (typeof schema === "object") ajv.removeSchema(schema);
  }
  return (value) => {
    try {
      return validate(value) ? [] : (validate.errors ?? []).map(toViolation);
    } catch (error) {
      // A recursive schema over a deeply nested value runs out of stack.
      if (error instanceof RangeError) return [{ path: "", description: "is nested too deeply to validate against its schema", keyword: "depth" }];
      throw error;
    }
  };
}
