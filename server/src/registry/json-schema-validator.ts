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
import { _, Ajv, type CodeKeywordDefinition, type ErrorObject, type KeywordCxt, type KeywordErrorDefinition, type ValidateFunction } from "ajv";
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
// ajv keeps one compiled expression per `toString()` of what this returns, for
// the life of the instance: each must name its own pattern, or every pattern
// compiled after the first would run the first.
const re2Engine = Object.assign(
  (pattern: string) => {
    const regex = compileLinearRegex(pattern, Number.MAX_SAFE_INTEGER);
    return { test: regex.test, toString: () => `/${pattern}/` };
  },
  { code: "compileLinearRegex" },
);

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

const dateTimeFormat = fullFormats["date-time"] as StringFormat;
const DATE_TIME_SEPARATOR = /[t\s]/i;
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number of the two ASCII digits at `at`, or -1 when either is no digit (or past the end). */
function twoDigits(value: string, at: number): number {
  const tens = value.charCodeAt(at) - 48;
  const ones = value.charCodeAt(at + 1) - 48;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/**
 * ajv-formats' `date-time` (full mode, a time zone required), read
 * character by character instead of with its three regular expressions,
 * an array and two strings per value (most of what validating a small
 * record cost). That format holds when the value splits at `t`, `T` or
 * whitespace into exactly two parts: a `date` (`YYYY-MM-DD`, a day that
 * month has) and a `time` (`hh:mm:ss`, an optional fraction, then `Z` or
 * an offset `+hh`, `+hhmm` or `+hh:mm`; a leap second only at 23:59 UTC).
 * Neither part holds a separator, so the value has its one separator at
 * index 10. The same checks in the same order, with the same numbers
 * (test/registry/date-time-format.test.ts compares both on thousands of
 * values).
 */
export function isDateTime(value: string): boolean {
  const length = value.length;
  if (length <= 11) return false;
  const separator = value.charCodeAt(10);
  if (separator !== 0x54 && separator !== 0x74 && separator !== 0x20 && !DATE_TIME_SEPARATOR.test(value.charAt(10))) return false;
  // The date: YYYY-MM-DD.
  const century = twoDigits(value, 0);
  const yearOfCentury = twoDigits(value, 2);
  const month = twoDigits(value, 5);
  const day = twoDigits(value, 8);
  if (century < 0 || yearOfCentury < 0 || month < 0 || day < 0 || value.charCodeAt(4) !== 0x2d || value.charCodeAt(7) !== 0x2d) return false;
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && isLeapYear(century * 100 + yearOfCentury) ? 29 : (DAYS_IN_MONTH[month] as number))) return false;
  // The time: hh:mm:ss[.f+] then the zone.
  const hour = twoDigits(value, 11);
  const minute = twoDigits(value, 14);
  let second = twoDigits(value, 17);
  if (hour < 0 || minute < 0 || second < 0 || value.charCodeAt(13) !== 0x3a || value.charCodeAt(16) !== 0x3a) return false;
  let at = 19;
  if (value.charCodeAt(at) === 0x2e) {
    let end = at + 1;
    for (let c = value.charCodeAt(end); c >= 0x30 && c <= 0x39; c = value.charCodeAt(end)) end += 1;
    if (end === at + 1) return false;
    // The seconds as the format reads them: a fraction may round up to 60.
    second = Number(value.slice(17, end));
    at = end;
  }
  let zoneSign = 1;
  let zoneHour = 0;
  let zoneMinute = 0;
  const zone = value.charCodeAt(at);
  if (zone === 0x5a || zone === 0x7a) {
    at += 1;
  } else if (zone === 0x2b || zone === 0x2d) {
    zoneSign = zone === 0x2d ? -1 : 1;
    zoneHour = twoDigits(value, at + 1);
    if (zoneHour < 0) return false;
    at += 3;
    if (at < length) {
      if (value.charCodeAt(at) === 0x3a) at += 1;
      zoneMinute = twoDigits(value, at);
      if (zoneMinute < 0) return false;
      at += 2;
    }
  } else {
    return false;
  }
  if (at !== length || zoneHour > 23 || zoneMinute > 59) return false;
  if (hour <= 23 && minute <= 59 && second < 60) return true;
  // A leap second: 23:59:60 in UTC.
  const utcMinute = minute - zoneMinute * zoneSign;
  const utcHour = hour - zoneHour * zoneSign - (utcMinute < 0 ? 1 : 0);
  return (utcHour === 23 || utcHour === -1) && (utcMinute === 59 || utcMinute === -1) && second < 61;
}

/** ajv-formats' own `date-time` check, for the test that compares it with {@link isDateTime}. */
export const formatsDateTime = (value: string): boolean => dateTimeFormat.validate(value);

/** The length of a string in code points (a surrogate pair counts once), as ajv's `ucs2length` counts it. */
function codePointLength(text: string): number {
  let pairs = 0;
  for (let i = 0; i + 1 < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      pairs += 1;
      i += 1;
    }
  }
  return text.length - pairs;
}

/**
 * `maxLength` and `minLength` as ajv defines them (code points, its own
 * error), counting the code points only near the limit: a string has at
 * most as many code points as UTF-16 units and at least half as many, so
 * one of `length` at most the maximum or at least twice the minimum holds
 * without a walk over it (ajv walks every string twice when both are set,
 * a third of what validating a small record cost).
 */
function stringLengthKeyword(error: KeywordErrorDefinition | undefined): CodeKeywordDefinition {
  return {
    keyword: ["maxLength", "minLength"],
    type: "string",
    schemaType: "number",
    $data: true,
    ...(error !== undefined ? { error } : {}),
    // Where ajv has it among the string keywords, so that errors keep their order.
    before: "pattern",
    code(cxt: KeywordCxt) {
      const { keyword, data, schemaCode, gen } = cxt;
      const count = gen.scopeValue("func", { ref: codePointLength });
      cxt.fail$data(
        keyword === "maxLength"
          ? _`${data}.length > ${schemaCode} && ${count}(${data}) > ${schemaCode}`
          : _`${data}.length < 2 * ${schemaCode} && ${count}(${data}) < ${schemaCode}`,
      );
    },
  };
}

function newInstance(draft2020: boolean): Ajv | Ajv2020 {
  const ajv = draft2020 ? new Ajv2020(OPTIONS) : new Ajv(OPTIONS);
  addFormats(ajv);
  ajv.addFormat("date-time", { type: "string", validate: isDateTime, ...(dateTimeFormat.compare !== undefined ? { compare: dateTimeFormat.compare } : {}) });
  ajv.removeKeyword("uniqueItems");
  ajv.addKeyword({ keyword: "uniqueItems", type: "array", schemaType: "boolean", validate: uniqueItems, errors: true });
  const lengthError = (ajv.getKeyword("maxLength") as CodeKeywordDefinition).error;
  ajv.removeKeyword("maxLength");
  ajv.removeKeyword("minLength");
  ajv.addKeyword(stringLengthKeyword(lengthError));
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

/** What a value was found to violate: the first violations, and how many there are in all. */
export interface JsonViolations {
  /** The first violations, in ajv's order: all of them, or `limit` when there are more. */
  readonly first: readonly JsonViolation[];
  /** How many there are in all (0 when the value is valid). */
  readonly count: number;
}

/**
 * A compiled schema: checks a value and describes the first `limit` of its
 * violations (default: all of them). A payload can break thousands of
 * rules; describing each costs far more than finding it, and an error lists
 * only the first few (see `MAX_LISTED_VIOLATIONS`).
 */
export type JsonValidator = (value: unknown, limit?: number) => JsonViolations;

/** A value without violations. */
export const NO_VIOLATIONS: JsonViolations = { first: [], count: 0 };

/** Violations that are all described (a payload that is not JSON, one nested too deep, ...). */
export function allDescribed(violations: readonly JsonViolation[]): JsonViolations {
  return { first: violations, count: violations.length };
}

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
  return (value, limit = Number.POSITIVE_INFINITY) => {
    try {
      if (validate(value)) return NO_VIOLATIONS;
      const errors = validate.errors ?? [];
      const described = errors.length <= limit ? errors : errors.slice(0, Math.max(0, limit));
      return { first: described.map(toViolation), count: errors.length };
    } catch (error) {
      // A recursive schema over a deeply nested value runs out of stack.
      if (error instanceof RangeError) return allDescribed([{ path: "", description: "is nested too deeply to validate against its schema", keyword: "depth" }]);
      throw error;
    }
  };
}
