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

function corpus(seeds: readonly string[] = SEEDS): string[] {
  const out = new Set<string>(seeds);
  for (const seed of seeds) {
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

  // The corners of a check read character by character: fractions that round
  // up to 60, leap seconds under offsets, offsets of every form and range,
  // month lengths and leap years.
  const CORNERS = [
    "2026-11-23T23:59:59.99999999999999999Z",
    "2026-11-23T12:59:59.99999999999999999Z",
    "2026-11-23T00:59:60+01:00",
    "2026-11-23T00:59:60+0100",
    "2026-11-23T18:29:60-05:30",
    "2026-11-23T23:59:60+00",
    "2026-11-23T24:59:59+01:00",
    "2026-11-23T23:60:00Z",
    "2026-11-23T12:00:00+24:00",
    "2026-11-23T12:00:00+23:60",
    "2026-11-23T12:00:00+1:00",
    "2026-11-23T12:00:00+01:",
    "2026-11-23T12:00:00.Z",
    "2026-11-23T12:00:00.5.5Z",
    "2000-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "2026-11-23\u200a12:00:00Z",
  ];

  it("agrees on the corners of the format too", () => {
    const values = corpus(CORNERS);
    expect(values.filter((value) => formatsDateTime(value)).length).toBeGreaterThan(50);
    expect(values.filter((value) => isDateTime(value) !== formatsDateTime(value))).toEqual([]);
  });
});
