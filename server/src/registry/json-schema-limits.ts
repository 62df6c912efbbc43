/**
 * The checks a JSON Schema passes before ajv compiles it, each one cheap and
 * linear in the document: nesting depth (of the raw text, before it is
 * parsed, and of subschemas), the number of subschemas, every regular
 * expression compiled by RE2 within its size limit, and `$ref` cycles that
 * would apply a schema to the same value forever (`{"$ref": "#"}`).
 * Compiling is the expensive part (ajv generates code per subschema), so it
 * is bounded by what passes here.
 */
import type { InputLimits } from "../limits.js";
import { compileLinearRegex, RegexError } from "../regex/linear-regex.js";

/** A limit the document is over: which flag, its value, what was found. */
export interface SchemaLimitHit {
  readonly limit: string;
  readonly max: number;
  readonly actual?: number;
}

/** Why a JSON Schema is refused before compiling. */
export class JsonSchemaLimitError extends Error {
  constructor(
    message: string,
    /** The limit it is over; undefined when the schema is unusable rather than too big. */
    readonly hit?: SchemaLimitHit,
  ) {
    super(message);
    this.name = "JsonSchemaLimitError";
  }
}

/**
 * The deepest nesting of arrays and objects in JSON text (a string, or its
 * UTF-8 bytes), stopping as soon as it passes `max` (then it returns
 * `max + 1`). Strings are skipped, so brackets inside them do not count.
 * Linear in the text, no allocation.
 */
export function jsonNestingDepth(text: string | Uint8Array, max: number): number {
  const isString = typeof text === "string";
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = isString ? text.charCodeAt(i) : (text[i] as number);
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth -= 1;
  }
  return deepest;
}

type SchemaObject = { readonly [keyword: string]: unknown };

// Keywords whose subschemas apply to the same value (a cycle through them never ends) ...
const IN_PLACE_ONE = ["not", "if", "then", "else"];
const IN_PLACE_LIST = ["allOf", "anyOf", "oneOf"];
const IN_PLACE_MAP = ["dependentSchemas", "dependencies"];
// ... and those that apply to a part of it (recursion through them ends with the value).
const CHILD_ONE = ["additionalProperties", "additionalItems", "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties", "contentSchema"];
const CHILD_LIST = ["prefixItems"];
const CHILD_MAP = ["properties", "patternProperties"];
// Definitions are not applied at all; they are reached by $ref.
const DEFINITION_MAP = ["definitions", "$defs"];

function isObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSchema(value: unknown): value is SchemaObject | boolean {
  return typeof value === "boolean" || isObject(value);
}

function escape(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

interface Node {
  readonly pointer: string;
  readonly schema: SchemaObject;
  /** Pointer of the resource (the nearest `$id`, or the root) `#` refers to. */
  readonly resource: string;
  /** Subschemas applied to the same value, by pointer. */
  readonly inPlace: string[];
  /** `$ref` targets (raw), resolved after the walk. */
  readonly refs: string[];
}

/**
 * Checks a parsed JSON Schema against the limits; throws a
 * {@link JsonSchemaLimitError} naming the first problem.
 */
export function checkJsonSchemaLimits(schema: unknown, limits: InputLimits): void {
  if (!isObject(schema)) return;
  const nodes = new Map<string, Node>();
  let count = 0;
  const over = (message: string, hit: SchemaLimitHit): never => {
    throw new JsonSchemaLimitError(message, hit);
  };
  const checkRegex = (source: string, where: string): void => {
    try {
      compileLinearRegex(source, limits.maxRegexSize);
    } catch (error) {
      if (!(error instanceof RegexError)) throw error;
      const message = `the regular expression at ${where} ${error.message}`;
      if (error.tooLarge) over(message, { limit: "max-regex-size", max: limits.maxRegexSize });
      throw new JsonSchemaLimitError(message);
    }
  };

  // Iterative walk: depth is bounded here, not by the call stack.
  const stack: { value: unknown; pointer: string; depth: number; resource: string }[] = [{ value: schema, pointer: "", depth: 1, resource: "" }];
  while (stack.length > 0) {
    const { value, pointer, depth, resource: parentResource } = stack.pop() as (typeof stack)[number];
    count += 1;
    if (count > limits.maxSchemaProperties) {
      over(`has more than ${limits.maxSchemaProperties} subschemas`, { limit: "max-schema-properties", max: limits.maxSchemaProperties });
    }
    if (depth > limits.maxSchemaDepth) {
      over(`nests subschemas more than ${limits.maxSchemaDepth} deep (at ${pointer === "" ? "/" : pointer})`, {
        limit: "max-schema-depth",
        max: limits.maxSchemaDepth,
      });
    }
    if (!isObject(value)) continue;
    const resource = pointer === "" || typeof value.$id === "string" ? pointer : parentResource;
    const node: Node = { pointer, schema: value, resource, inPlace: [], refs: [] };
    nodes.set(pointer, node);
    const push = (child: unknown, childPointer: string, inPlace: boolean): void => {
      if (!isSchema(child)) return;
      if (inPlace) node.inPlace.push(childPointer);
      stack.push({ value: child, pointer: childPointer, depth: depth + 1, resource });
    };
    for (const k of ["$ref", "$recursiveRef", "$dynamicRef"]) {
      const ref = value[k];
      if (typeof ref === "string") node.refs.push(k === "$ref" ? ref : "#");
    }
    if (typeof value.pattern === "string") checkRegex(value.pattern, `${pointer}/pattern`);
    for (const k of IN_PLACE_ONE) push(value[k], `${pointer}/${k}`, true);
    for (const k of CHILD_ONE) push(value[k], `${pointer}/${k}`, false);
    for (const k of IN_PLACE_LIST) {
      const list = value[k];
      if (Array.isArray(list)) list.forEach((s, i) => push(s, `${pointer}/${k}/${i}`, true));
    }
    for (const k of CHILD_LIST) {
      const list = value[k];
      if (Array.isArray(list)) list.forEach((s, i) => push(s, `${pointer}/${k}/${i}`, false));
    }
    const items = value.items;
    if (Array.isArray(items)) items.forEach((s, i) => push(s, `${pointer}/items/${i}`, false));
    else push(items, `${pointer}/items`, false);
    for (const k of [...IN_PLACE_MAP, ...CHILD_MAP, ...DEFINITION_MAP]) {
      const map = value[k];
      if (!isObject(map)) continue;
      for (const [name, s] of Object.entries(map)) {
        if (k === "patternProperties") checkRegex(name, `${pointer}/patternProperties`);
        push(s, `${pointer}/${k}/${escape(name)}`, IN_PLACE_MAP.includes(k));
      }
    }
  }
  findRefCycle(nodes);
}

function resolveRef(ref: string, from: Node, nodes: ReadonlyMap<string, Node>): string | undefined {
  if (ref === "#") return from.resource;
  if (!ref.startsWith("#/")) return undefined; // anchors and other documents: ajv resolves or refuses them
  let pointer: string;
  try {
    pointer = decodeURIComponent(ref.slice(1));
  } catch {
    return undefined;
  }
  const target = `${from.resource}${pointer}`;
  return nodes.has(target) ? target : undefined;
}

/** Throws when some schema reaches itself through `$ref`s and in-place keywords only. */
function findRefCycle(nodes: ReadonlyMap<string, Node>): void {
  const edges = new Map<string, string[]>();
  for (const node of nodes.values()) {
    const out = [...node.inPlace];
    for (const ref of node.refs) {
      const target = resolveRef(ref, node, nodes);
      if (target !== undefined) out.push(target);
    }
    edges.set(node.pointer, out);
  }
  // Iterative depth-first search with colours: 1 on the path, 2 done.
  const colour = new Map<string, 1 | 2>();
  for (const start of nodes.keys()) {
    if (colour.has(start)) continue;
    const path: { pointer: string; next: number }[] = [{ pointer: start, next: 0 }];
    colour.set(start, 1);
    while (path.length > 0) {
      const top = path[path.length - 1] as { pointer: string; next: number };
      const out = edges.get(top.pointer) ?? [];
      if (top.next >= out.length) {
        colour.set(top.pointer, 2);
        path.pop();
        continue;
      }
      const target = out[top.next] as string;
      top.next += 1;
      const seen = colour.get(target);
      if (seen === 1) {
        const cycle = [...path.slice(path.findIndex((p) => p.pointer === target)).map((p) => p.pointer || "/"), target || "/"];
        throw new JsonSchemaLimitError(
          `has a $ref cycle that applies a schema to the same value forever: ${cycle.join(" -> ")} (a recursive schema must descend into a property or an item before it refers back)`,
        );
      }
      if (seen === undefined && edges.has(target)) {
        colour.set(target, 1);
        path.push({ pointer: target, next: 0 });
      }
    }
  }
}
