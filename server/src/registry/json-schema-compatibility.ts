/**
 * JSON Schema compatibility: where a schema `to` rejects a value that a
 * schema `from` accepts. BACKWARD compares (previous, candidate): the new
 * schema must accept the data written under the old one; FORWARD compares
 * (candidate, previous). Each violation names the JSON pointer of the
 * keyword's location in the schema (`/properties/task/properties/priority`).
 *
 * Rules: JSON_TYPE_CHANGED (type narrowed or changed), JSON_REQUIRED_ADDED,
 * JSON_PROPERTY_REMOVED (under `additionalProperties: false`),
 * JSON_ADDITIONAL_PROPERTIES_NARROWED, JSON_ENUM_VALUE_REMOVED,
 * JSON_CONST_CHANGED, JSON_MINIMUM_TIGHTENED, JSON_MAXIMUM_TIGHTENED,
 * JSON_MIN_LENGTH_TIGHTENED, JSON_MAX_LENGTH_TIGHTENED,
 * JSON_MIN_ITEMS_TIGHTENED, JSON_MAX_ITEMS_TIGHTENED, JSON_PATTERN_CHANGED,
 * JSON_FORMAT_CHANGED, JSON_SCHEMA_FALSE.
 */
import type { JsonSchema } from "./schema-definition.js";
import { BreakCollector } from "./break-collector.js";

/** One incompatibility between two JSON Schemas. */
export interface JsonSchemaBreak {
  /** The rule, e.g. `JSON_REQUIRED_ADDED`. */
  readonly rule: string;
  /** JSON pointer into the schema. */
  readonly path: string;
  /** What changed, naming both schemas. */
  readonly description: string;
}

type SchemaObject = { readonly [keyword: string]: unknown };

const ALL_TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"];

function asObject(schema: unknown): SchemaObject | undefined {
  return typeof schema === "object" && schema !== null && !Array.isArray(schema) ? (schema as SchemaObject) : undefined;
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** The set of JSON types a schema admits, or undefined for any. */
function types(schema: SchemaObject): string[] | undefined {
  const t = schema.type;
  if (typeof t === "string") return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === "string");
  return undefined;
}

function admitsType(allowed: readonly string[] | undefined, type: string): boolean {
  if (allowed === undefined) return true;
  // Every integer is a number.
  return allowed.includes(type) || (type === "integer" && allowed.includes("number"));
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describe(value: unknown): string {
  return value === undefined ? "(none)" : JSON.stringify(value);
}

type Collector = BreakCollector<{ readonly label: string }>;

// A lower bound `to` is tighter than `from` when it exists and is greater.
function lowerBound(c: Collector, rule: string, keyword: string, path: string, from: SchemaObject, to: SchemaObject): void {
  const a = num(from[keyword]);
  const b = num(to[keyword]);
  if (b !== undefined && (a === undefined || b > a)) {
    c.add(rule, `${path}/${keyword}`, `${keyword} is ${describe(a)} in ${c.from.label} but ${b} in ${c.to.label}`);
  }
}

function upperBound(c: Collector, rule: string, keyword: string, path: string, from: SchemaObject, to: SchemaObject): void {
  const a = num(from[keyword]);
  const b = num(to[keyword]);
  if (b !== undefined && (a === undefined || b < a)) {
    c.add(rule, `${path}/${keyword}`, `${keyword} is ${describe(a)} in ${c.from.label} but ${b} in ${c.to.label}`);
  }
}

function compare(c: Collector, fromSchema: unknown, toSchema: unknown, path: string): void {
  if (toSchema === true || toSchema === undefined) return;
  if (toSchema === false) {
    if (fromSchema !== false) c.add("JSON_SCHEMA_FALSE", path, `${c.to.label} accepts nothing here, ${c.from.label} did`);
    return;
  }
  const to = asObject(toSchema);
  if (to === undefined) return;
  const from = fromSchema === true || fromSchema === undefined ? {} : asObject(fromSchema);
  if (from === undefined) return;
  compareValues(c, from, to, path);
  compareObjects(c, from, to, path);
  // Arrays.
  if (from.items !== undefined || to.items !== undefined) {
    if (!Array.isArray(from.items) && !Array.isArray(to.items)) compare(c, from.items, to.items, `${path}/items`);
  }
}

/** The keywords on the value itself: type, enum, const, bounds, pattern and format. */
function compareValues(c: Collector, from: SchemaObject, to: SchemaObject, path: string): void {
  const typesFrom = types(from) ?? ALL_TYPES;
  const typesTo = types(to);
  const lost = typesFrom.filter((t) => !admitsType(typesTo, t));
  if (lost.length > 0) {
    c.add(
      "JSON_TYPE_CHANGED",
      `${path}/type`,
      `type is ${describe(from.type ?? "any")} in ${c.from.label} but ${describe(to.type)} in ${c.to.label} (no longer accepts ${lost.join(", ")})`,
    );
  }

  if (Array.isArray(to.enum)) {
    if (!Array.isArray(from.enum)) {
      c.add("JSON_ENUM_VALUE_REMOVED", `${path}/enum`, `${c.from.label} accepts any value here, ${c.to.label} only ${describe(to.enum)}`);
    } else {
      const removed = from.enum.filter((v) => !(to.enum as unknown[]).some((w) => same(v, w)));
      if (removed.length > 0) {
        c.add("JSON_ENUM_VALUE_REMOVED", `${path}/enum`, `values ${removed.map(describe).join(", ")} of ${c.from.label} are not in ${c.to.label}`);
      }
    }
  }
  if ("const" in to && !("const" in from && same(from.const, to.const))) {
    c.add("JSON_CONST_CHANGED", `${path}/const`, `const is ${describe(from.const)} in ${c.from.label} but ${describe(to.const)} in ${c.to.label}`);
  }

  lowerBound(c, "JSON_MINIMUM_TIGHTENED", "minimum", path, from, to);
  lowerBound(c, "JSON_MINIMUM_TIGHTENED", "exclusiveMinimum", path, from, to);
  upperBound(c, "JSON_MAXIMUM_TIGHTENED", "maximum", path, from, to);
  upperBound(c, "JSON_MAXIMUM_TIGHTENED", "exclusiveMaximum", path, from, to);
  lowerBound(c, "JSON_MIN_LENGTH_TIGHTENED", "minLength", path, from, to);
  upperBound(c, "JSON_MAX_LENGTH_TIGHTENED", "maxLength", path, from, to);
  lowerBound(c, "JSON_MIN_ITEMS_TIGHTENED", "minItems", path, from, to);
  upperBound(c, "JSON_MAX_ITEMS_TIGHTENED", "maxItems", path, from, to);
  lowerBound(c, "JSON_MIN_PROPERTIES_TIGHTENED", "minProperties", path, from, to);
  upperBound(c, "JSON_MAX_PROPERTIES_TIGHTENED", "maxProperties", path, from, to);
  if (typeof to.pattern === "string" && to.pattern !== from.pattern) {
    c.add("JSON_PATTERN_CHANGED", `${path}/pattern`, `pattern is ${describe(from.pattern)} in ${c.from.label} but ${describe(to.pattern)} in ${c.to.label}`);
  }
  if (typeof to.format === "string" && to.format !== from.format) {
    c.add("JSON_FORMAT_CHANGED", `${path}/format`, `format is ${describe(from.format)} in ${c.from.label} but ${describe(to.format)} in ${c.to.label}`);
  }
}

/** The object keywords: required, properties and additionalProperties. */
function compareObjects(c: Collector, from: SchemaObject, to: SchemaObject, path: string): void {
  const propsFrom = asObject(from.properties) ?? {};
  const propsTo = asObject(to.properties) ?? {};
  const requiredFrom = new Set(Array.isArray(from.required) ? from.required : []);
  const requiredTo = Array.isArray(to.required) ? (to.required as unknown[]) : [];
  for (const name of requiredTo) {
    if (typeof name === "string" && !requiredFrom.has(name)) {
      c.add(
        "JSON_REQUIRED_ADDED",
        `${path}/properties/${escapePointer(name)}`,
        `property "${name}" is required in ${c.to.label} but not in ${c.from.label}`,
      );
    }
  }
  const closedTo = to.additionalProperties === false;
  const openFrom = from.additionalProperties !== false;
  for (const name of Object.keys(propsFrom)) {
    const pointer = `${path}/properties/${escapePointer(name)}`;
    if (name in propsTo) {
      compare(c, propsFrom[name], propsTo[name], pointer);
    } else if (closedTo) {
      c.add("JSON_PROPERTY_REMOVED", pointer, `property "${name}" of ${c.from.label} is not allowed by ${c.to.label} (additionalProperties: false)`);
    } else if (asObject(to.additionalProperties) !== undefined) {
      compare(c, propsFrom[name], to.additionalProperties, `${path}/additionalProperties`);
    }
  }
  if (closedTo && openFrom) {
    c.add(
      "JSON_ADDITIONAL_PROPERTIES_NARROWED",
      `${path}/additionalProperties`,
      `${c.from.label} accepts properties it does not list, ${c.to.label} does not (additionalProperties: false)`,
    );
  } else if (!closedTo && asObject(to.additionalProperties) !== undefined) {
    compare(c, from.additionalProperties, to.additionalProperties, `${path}/additionalProperties`);
  }
}

/** Where `to` rejects values `from` accepts; empty when `to` accepts everything `from` does. */
export function jsonSchemaBreaks(from: JsonSchema, to: JsonSchema, fromLabel: string, toLabel: string): JsonSchemaBreak[] {
  const c: Collector = new BreakCollector({ label: fromLabel }, { label: toLabel });
  compare(c, from, to, "");
  // The schema's root is "/" in the pointers violations show.
  return c.breaks.map((b) => (b.path === "" ? { ...b, path: "/" } : b));
}
