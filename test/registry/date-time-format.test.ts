/**
 * The JSON Schema `date-time` format is checked without ajv-formats' split
 * (json-schema-validator.ts, isDateTime): it must accept and refuse exactly
 * what ajv-formats' own check does.
 */
import { describe, expect, it } from "vitest";
import { formatsDateTime, isDateTime } from "../../server/src/registry/json-schema-validator.js";

const SEEDS = [
  "2026-11-23T12:00:00Z",
  "2026-11-23t12:00:00z",
  "2026-11-23 12:00:00+01:00",
  "2026-11-23\t12:00:00.123456-0530",
  "2024-02-29T23:59:60Z",
  "2023-02-29T10:00:00Z",
  "2026-12-31T23:59:59.9+14:00",
  "1990-12-31T15:59:60-08:00",
  "2026-11-23T12:00:00",
  "2026-11-23TT12:00:00Z",
  "2026-11-23T12:00:00Z ",
  "2026-11-2312:00:00Z",
  "2026-13-01T00:00:00Z",
  "2026-11-23\u00a012:00:00Z",
  "2026-11-23\n12:00:00Z",
  "T2026-11-23 12:00:00Z",
  "",
  "2026-11-23T",
];

// Deterministic mutations of the seeds: each position replaced, dropped or
// doubled, and separators, signs and letters put in.
const ALPHABET = ["0", "9", "T", "t", " ", "\t", "\n", "\u2003", ":", "-", "+", ".", "Z", "z", "x"];

function corpus(): string[] {
  const out = new Set<string>(SEEDS);
  for (const seed of SEEDS) {
    for (let i = 0; i <= seed.length; i++) {
      out.add(seed.slice(0, i) + seed.slice(i + 1));
      out.add(seed.slice(0, i) + seed.charAt(i) + seed.slice(i));
      for (const c of ALPHABET) {
        out.add(seed.slice(0, i) + c + seed.slice(i + 1));
        out.add(seed.slice(0, i) + c + seed.slice(i));
      }
    }
  }
  return [...out];
}

describe("the date-time format", () => {
  it("accepts and refuses exactly what ajv-formats' date-time does", () => {
    const values = corpus();
    const accepted = values.filter((value) => formatsDateTime(value));
    expect(values.length).toBeGreaterThan(5000);
    // Both outcomes are exercised, not just one.
    expect(accepted.length).toBeGreaterThan(50);
    expect(values.filter((value) => isDateTime(value) !== formatsDateTime(value))).toEqual([]);
  });
});
