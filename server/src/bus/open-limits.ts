/**
 * The limits of a subscription's `open`: how many patterns, a filter within
 * its length, depth and regular-expression limits, and a start position a
 * store can represent. Checked the same way for a broadcast subscription and
 * a consumer group.
 */
import type { OpenSubscription } from "@protobus/sdk/proto";
import { limitFieldViolation, type FieldViolation } from "../errors.js";
import { filterError } from "../filter/filter-expression.js";
import type { InputLimits } from "../limits.js";
import { sequenceViolation } from "./page-token.js";

/** The violations of `patterns` against `--max-patterns`, under the field name `field`. */
export function patternCountViolations(patterns: readonly string[], field: string, limits: InputLimits): FieldViolation[] {
  if (patterns.length <= limits.maxPatterns) return [];
  return [
    limitFieldViolation({
      field,
      limit: "max-patterns",
      max: limits.maxPatterns,
      actual: patterns.length,
      description: `has ${patterns.length} patterns, over the limit of ${limits.maxPatterns}`,
    }),
  ];
}

/** The limit violations (and filter syntax errors) of an `open`. */
export function openLimitViolations(open: OpenSubscription, limits: InputLimits): FieldViolation[] {
  const violations = patternCountViolations(open.patterns, "open.patterns", limits);
  const start = open.start?.position;
  if (start?.$case === "sequence") {
    const beyond = sequenceViolation(start.sequence, "open.start.sequence");
    if (beyond !== undefined) violations.push(beyond);
  } else if (start?.$case === "time" && !Number.isFinite(start.time.getTime())) {
    violations.push({ field: "open.start.time", description: "is not a time this server can represent (years 0001 to 9999)", reason: "OUT_OF_RANGE" });
  }
  if (open.filter !== "") {
    const error = filterError(open.filter, limits);
    if (error?.hit !== undefined) {
      violations.push(limitFieldViolation({ field: "open.filter", description: error.message, ...error.hit }));
    } else if (error !== undefined) violations.push({ field: "open.filter", description: error.message, reason: "FILTER" });
  }
  return violations;
}
