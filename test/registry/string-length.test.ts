/**
 * `maxLength` and `minLength` count code points only near their limit
 * (json-schema-validator.ts): every error, its wording and its place among
 * the other errors of a value stay exactly those of ajv's own keywords, for
 * strings of surrogate pairs, lone surrogates and plain characters alike,
 * in both drafts.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileJsonSchema } from "../../server/src/registry/json-schema-validator.js";
import { REPO_ROOT } from "../support/test-server.js";

// The ajv the server depends on (the repository root holds an older one for the linter).
const requireFromServer = createRequire(join(REPO_ROOT, "server/package.json"));
interface ReferenceAjv {
  compile(schema: unknown): { (value: unknown): boolean; errors?: { keyword: string; message?: string }[] | null };
}
type ReferenceAjvClass = new (options: { allErrors: boolean; strict: boolean }) => ReferenceAjv;
const { Ajv } = requireFromServer("ajv") as { Ajv: ReferenceAjvClass };
const { Ajv2020 } = requireFromServer("ajv/dist/2020") as { Ajv2020: ReferenceAjvClass };

type Reference = (value: unknown) => { keyword: string; description: string }[];

function reference(schema: Record<string, unknown>, draft2020: boolean): Reference {
  const ajv = draft2020 ? new Ajv2020({ allErrors: true, strict: false }) : new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map((e) => ({ keyword: e.keyword, description: e.message ?? "" })));
}

const UNITS = ["a", "b", "é", "😀", "\uD800", "\uDC00", "\uDBFF\uDFFF"];
const text = fc.array(fc.constantFrom(...UNITS), { maxLength: 9 }).map((parts) => parts.join(""));
const limit = fc.integer({ min: 0, max: 7 });

describe("string length keywords", () => {
  it("answer exactly as ajv's own, errors in the same order", () => {
    fc.assert(
      fc.property(limit, limit, fc.boolean(), fc.array(text, { minLength: 1, maxLength: 10 }), (min, max, draft2020, values) => {
        const schema = {
          ...(draft2020 ? { $schema: "https://json-schema.org/draft/2020-12/schema" } : {}),
          type: "string",
          minLength: min,
          maxLength: max,
          pattern: "^a",
        };
        const ours = compileJsonSchema(schema);
        const theirs = reference(schema, draft2020);
        for (const value of values) expect(ours(value).first.map((v) => ({ keyword: v.keyword, description: v.description })), JSON.stringify(value)).toEqual(theirs(value));
      }),
      { numRuns: 150, seed: 20_261_206 },
    );
  });

  it("keep their place among the keywords of a property", () => {
    const schema = {
      type: "object",
      required: ["name"],
      properties: { name: { type: "string", minLength: 30, maxLength: 2, pattern: "^x" }, tags: { type: "array", items: { type: "string", maxLength: 1 } } },
    };
    const theirs = reference(schema, false);
    const value = { name: "2026-11-23T12:00:00", tags: ["ab", "c", "😀😀", 7] };
    expect(compileJsonSchema(schema)(value).first.map((v) => ({ keyword: v.keyword, description: v.description }))).toEqual(theirs(value));
    expect(theirs(value).length).toBe(6);
  });

  it("describe only the first errors when asked for fewer, and count them all", () => {
    const schema = { type: "object", properties: { tags: { type: "array", items: { type: "string", maxLength: 1 } } } };
    const value = { tags: Array.from({ length: 12_000 }, () => "ab") };
    const all = compileJsonSchema(schema)(value);
    const some = compileJsonSchema(schema)(value, 3);
    expect(all.count).toBe(12_000);
    expect(all.first).toHaveLength(12_000);
    expect(some.count).toBe(12_000);
    expect(some.first).toEqual(all.first.slice(0, 3));
    expect(compileJsonSchema(schema)(value, 0)).toEqual({ first: [], count: 12_000 });
  });
});
