/**
 * Every JSON Schema compatibility rule, breaking and not breaking, in
 * BACKWARD, FORWARD and FULL, through the same checker the registry uses.
 */
import { describe, expect, it } from "vitest";
import { checkCompatibility, parseDefinition, type CompatibilityMode, type ParsedSchema } from "@protobus/server";
import { TASK_CREATED, fixtureDescriptorSet } from "./support.js";

function schema(value: unknown): ParsedSchema {
  return parseDefinition({ format: "JSON_SCHEMA", definition: new TextEncoder().encode(JSON.stringify(value)), messageName: "" });
}

function rules(before: unknown, after: unknown, mode: CompatibilityMode = "BACKWARD"): string[] {
  return checkCompatibility(schema(after), [{ version: 1, parsed: schema(before) }], mode).map((v) => `${v.rule} ${v.path}`);
}

const obj = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: "object", properties, ...extra });

describe("JSON Schema compatibility", () => {
  it("JSON_REQUIRED_ADDED: a new required property breaks BACKWARD, not FORWARD", () => {
    const before = obj({ a: { type: "string" } });
    const after = obj({ a: { type: "string" }, b: { type: "string" } }, { required: ["b"] });
    expect(rules(before, after)).toEqual(["JSON_REQUIRED_ADDED /properties/b"]);
    expect(rules(before, after, "FORWARD")).toEqual([]);
    expect(rules(before, after, "FULL")).toEqual(["JSON_REQUIRED_ADDED /properties/b"]);
    // An optional new property breaks nothing.
    expect(rules(before, obj({ a: { type: "string" }, b: { type: "string" } }), "FULL")).toEqual([]);
  });

  it("JSON_PROPERTY_REMOVED: removing a property under additionalProperties: false", () => {
    const before = obj({ a: { type: "string" }, b: { type: "string" } }, { additionalProperties: false });
    expect(rules(before, obj({ a: { type: "string" } }, { additionalProperties: false }))).toEqual(["JSON_PROPERTY_REMOVED /properties/b"]);
    // Open objects still accept it.
    expect(rules(obj({ a: {}, b: {} }), obj({ a: {} }))).toEqual([]);
  });

  it("JSON_ADDITIONAL_PROPERTIES_NARROWED: closing an open object", () => {
    expect(rules(obj({ a: {} }), obj({ a: {} }, { additionalProperties: false }))).toEqual(["JSON_ADDITIONAL_PROPERTIES_NARROWED /additionalProperties"]);
    expect(rules(obj({ a: {} }, { additionalProperties: false }), obj({ a: {} }))).toEqual([]);
  });

  it("JSON_TYPE_CHANGED: narrowing or changing a type, while widening is fine", () => {
    expect(rules(obj({ n: { type: "number" } }), obj({ n: { type: "integer" } }))).toEqual(["JSON_TYPE_CHANGED /properties/n/type"]);
    expect(rules(obj({ n: { type: "string" } }), obj({ n: { type: "integer" } }))).toEqual(["JSON_TYPE_CHANGED /properties/n/type"]);
    expect(rules(obj({ n: { type: ["string", "null"] } }), obj({ n: { type: "string" } }))).toEqual(["JSON_TYPE_CHANGED /properties/n/type"]);
    expect(rules(obj({ n: { type: "integer" } }), obj({ n: { type: "number" } }))).toEqual([]);
    expect(rules(obj({ n: { type: "integer" } }), obj({ n: { type: "number" } }), "FORWARD")).toEqual(["JSON_TYPE_CHANGED /properties/n/type"]);
  });

  it("JSON_ENUM_VALUE_REMOVED: removing enum values, while adding is fine", () => {
    expect(rules(obj({ s: { enum: ["a", "b"] } }), obj({ s: { enum: ["a"] } }))).toEqual(["JSON_ENUM_VALUE_REMOVED /properties/s/enum"]);
    expect(rules(obj({ s: { enum: ["a"] } }), obj({ s: { enum: ["a", "b"] } }))).toEqual([]);
    expect(rules(obj({ s: { enum: ["a"] } }), obj({ s: { enum: ["a", "b"] } }), "FORWARD")).toEqual(["JSON_ENUM_VALUE_REMOVED /properties/s/enum"]);
  });

  it("JSON_MINIMUM_TIGHTENED / JSON_MAXIMUM_TIGHTENED / JSON_MAX_LENGTH_TIGHTENED and friends", () => {
    expect(rules(obj({ n: { minimum: 0 } }), obj({ n: { minimum: 1 } }))).toEqual(["JSON_MINIMUM_TIGHTENED /properties/n/minimum"]);
    expect(rules(obj({ n: { minimum: 1 } }), obj({ n: { minimum: 0 } }))).toEqual([]);
    expect(rules(obj({ n: { maximum: 9 } }), obj({ n: { maximum: 5 } }))).toEqual(["JSON_MAXIMUM_TIGHTENED /properties/n/maximum"]);
    expect(rules(obj({ n: {} }), obj({ n: { maximum: 5 } }))).toEqual(["JSON_MAXIMUM_TIGHTENED /properties/n/maximum"]);
    expect(rules(obj({ n: { maximum: 5 } }), obj({ n: { maximum: 9 } }))).toEqual([]);
    expect(rules(obj({ s: { maxLength: 10 } }), obj({ s: { maxLength: 5 } }))).toEqual(["JSON_MAX_LENGTH_TIGHTENED /properties/s/maxLength"]);
    expect(rules(obj({ s: { maxLength: 5 } }), obj({ s: { maxLength: 10 } }))).toEqual([]);
    expect(rules(obj({ s: { minLength: 1 } }), obj({ s: { minLength: 2 } }))).toEqual(["JSON_MIN_LENGTH_TIGHTENED /properties/s/minLength"]);
    expect(rules(obj({ l: { maxItems: 3 } }), obj({ l: { maxItems: 2 } }))).toEqual(["JSON_MAX_ITEMS_TIGHTENED /properties/l/maxItems"]);
  });

  it("JSON_PATTERN_CHANGED, JSON_FORMAT_CHANGED and JSON_CONST_CHANGED", () => {
    expect(rules(obj({ s: {} }), obj({ s: { pattern: "^a" } }))).toEqual(["JSON_PATTERN_CHANGED /properties/s/pattern"]);
    expect(rules(obj({ s: { pattern: "^a" } }), obj({ s: {} }))).toEqual([]);
    expect(rules(obj({ s: {} }), obj({ s: { format: "email" } }))).toEqual(["JSON_FORMAT_CHANGED /properties/s/format"]);
    expect(rules(obj({ s: { const: 1 } }), obj({ s: { const: 2 } }))).toEqual(["JSON_CONST_CHANGED /properties/s/const"]);
    expect(rules(obj({ s: { const: 1 } }), obj({ s: { const: 1 } }), "FULL")).toEqual([]);
  });

  it("follows nested objects and array items, with JSON pointers", () => {
    const before = obj({ task: obj({ steps: { type: "array", items: obj({ n: { type: "integer", maximum: 5 } }) } }) });
    const after = obj({ task: obj({ steps: { type: "array", items: obj({ n: { type: "integer", maximum: 3 } }) } }) });
    expect(rules(before, after)).toEqual(["JSON_MAXIMUM_TIGHTENED /properties/task/properties/steps/items/properties/n/maximum"]);
  });

  it("reports each violation with old versus new and the version compared", () => {
    const [violation] = checkCompatibility(schema(obj({ n: { maximum: 9 } })), [{ version: 3, parsed: schema(obj({ n: { maximum: 5 } })) }], "FORWARD");
    expect(violation).toEqual({
      rule: "JSON_MAXIMUM_TIGHTENED",
      path: "/properties/n/maximum",
      description: "maximum is 9 in the new schema but 5 in version 3",
      version: 3,
      direction: "FORWARD",
    });
  });

  it("NONE checks nothing; a format change breaks every other mode", () => {
    expect(rules(obj({ n: { maximum: 9 } }), obj({ n: { maximum: 1 } }), "NONE")).toEqual([]);
    const proto = parseDefinition({ format: "PROTOBUF", definition: fixtureDescriptorSet(), messageName: TASK_CREATED });
    expect(checkCompatibility(schema({}), [{ version: 1, parsed: proto }], "FULL").map((v) => `${v.rule} ${v.direction}`)).toEqual(["FORMAT_CHANGED BACKWARD"]);
    expect(checkCompatibility(schema({}), [{ version: 1, parsed: proto }], "NONE")).toEqual([]);
  });
});
