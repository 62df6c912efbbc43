/**
 * Simple expressions run on the engine's own RegExp (backtrack-free.ts):
 * only those a backtracking engine runs in linear time, with exactly RE2's
 * results. Drawn expressions of the recognized form and drawn inputs give
 * the same answer on both engines; expressions that backtrack (nested or
 * overlapping repetition, unanchored repetition) stay on RE2 and answer
 * hostile input promptly, through a compiled JSON Schema too.
 */
import fc from "fast-check";
import { RE2JS } from "re2js";
import { describe, expect, it } from "vitest";
import { backtrackFreeRegExp } from "../../server/src/regex/backtrack-free.js";
import { compileLinearRegex } from "../../server/src/regex/linear-regex.js";
import { compileJsonSchema } from "../../server/src/registry/json-schema-validator.js";

const re2 = (source: string) => RE2JS.compile(RE2JS.translateRegExp(source));

// Atoms of the recognized form, and a few that are not (groups, `.`, negated classes, non-ASCII).
const ATOMS = ["a", "b", "t", "-", "_", " ", "@", "\\.", "\\-", "\\d", "\\w", "[a-c]", "[0-9_-]", "[-x]", "[A-Za-z]", "[\\d.]", "[\\w@]", "é", ".", "[^a]", "(a)"];
const REPEATS = ["", "", "*", "+", "?", "{2}", "{0,3}", "{1,}", "+?"];
const INPUT_CHARS = ["a", "b", "c", "t", "x", "A", "Z", "0", "9", "-", "_", ".", "@", " ", "\n", "é", "😀", "\uD800"];

const pattern = fc
  .tuple(fc.boolean(), fc.array(fc.tuple(fc.constantFrom(...ATOMS), fc.constantFrom(...REPEATS)), { maxLength: 5 }), fc.boolean())
  .map(([start, atoms, end]) => `${start ? "^" : ""}${atoms.map(([atom, repeat]) => atom + repeat).join("")}${end ? "$" : ""}`);
const input = fc.array(fc.constantFrom(...INPUT_CHARS), { maxLength: 12 }).map((chars) => chars.join(""));

/** Milliseconds `run` takes. */
function timed(run: () => unknown): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

describe("backtrack-free expressions", () => {
  it("answer exactly as RE2 does", () => {
    let native = 0;
    fc.assert(
      fc.property(pattern, fc.array(input, { minLength: 1, maxLength: 20 }), (source, inputs) => {
        const regex = backtrackFreeRegExp(source);
        if (regex === undefined) return;
        native += 1;
        const expected = re2(source);
        for (const value of inputs) expect(regex.test(value), `${source} on ${JSON.stringify(value)}`).toBe(expected.test(value));
      }),
      { numRuns: 3000, seed: 20_261_206 },
    );
    // The drawn expressions exercise the native path, not just the fallback.
    expect(native).toBeGreaterThan(500);
  });

  it("answer as RE2 does for expressions written the usual ways", () => {
    const cases: [string, string[]][] = [
      ["^t-[0-9]+$", ["t-000001", "t-", "t-12a", "xt-1", "t-1\n", "T-1"]],
      ["^[A-Za-z0-9_-]{1,8}$", ["abc_-9", "", "abcdefghi", "ab cd", "é"]],
      ["^\\d{4}-\\d{2}-\\d{2}$", ["2026-11-23", "2026-1-23", "２０２６-11-23"]],
      ["^-?\\d+$", ["-12", "--1", "12-", "-"]],
      ["^\\w+@\\w+\\.com$", ["a@b.com", "a@b.comx", "a.b@c.com", "_@_.com"]],
      ["[0-9]{3}", ["ab123", "12", "x1y2z3"]],
      ["^$", ["", "a", "\n"]],
    ];
    for (const [source, inputs] of cases) {
      expect(backtrackFreeRegExp(source), source).toBeDefined();
      const compiled = compileLinearRegex(source, 1000);
      for (const value of inputs) expect(compiled.test(value), `${source} on ${JSON.stringify(value)}`).toBe(re2(source).test(value));
    }
  });

  it("leave every expression that can backtrack to RE2", () => {
    const backtracking = [
      "^(a+)+$", // nested repetition
      "^(a|aa)+$", // alternation under repetition
      "^a*a*a*a*b$", // overlapping repetitions
      "^[a-z]+[a-z0-9]$", // a repetition followed by an atom it overlaps
      "^a+a?b$", // a repetition followed by an optional atom
      "a+b", // a repetition tried at every start position
      "[0-9]+$",
      "^.*x$", // `.`
      "^[^@]+@", // negated class
      "^a+?b$", // lazy repetition
      "^é+$", // non-ASCII
      "^(?i)a+$", // flags
    ];
    for (const source of backtracking) expect(backtrackFreeRegExp(source), source).toBeUndefined();
  });

  it("answer hostile input promptly, on RE2 or natively", () => {
    const hostile = `${"a".repeat(100_000)}!`;
    for (const source of ["^(a+)+$", "^a*a*a*a*b$", "a+b", "^[a-z]+[a-z0-9]$", "^[a-z]+-[0-9]+$", "^a+$", "^\\w+@\\w+\\.com$"]) {
      const regex = compileLinearRegex(source, 10_000);
      expect(timed(() => regex.test(hostile)), source).toBeLessThan(1000);
    }
  });

  it("keep a JSON Schema pattern of ^(a+)+$ from stalling validation", () => {
    const validate = compileJsonSchema({ type: "object", properties: { name: { type: "string", pattern: "^(a+)+$" }, id: { type: "string", pattern: "^t-[0-9]+$" } } });
    const name = `${"a".repeat(50_000)}!`;
    let violations: ReturnType<typeof validate> = { first: [], count: 0 };
    expect(timed(() => (violations = validate({ name, id: `t-${"1".repeat(50_000)}x` })))).toBeLessThan(1000);
    expect(violations.first).toEqual([
      { path: "name", description: 'must match pattern "^(a+)+$"', keyword: "pattern" },
      { path: "id", description: 'must match pattern "^t-[0-9]+$"', keyword: "pattern" },
    ]);
    expect(violations.count).toBe(2);
    expect(validate({ name: "aaaa", id: "t-1" })).toEqual({ first: [], count: 0 });
  });
});
