/**
 * The paging part of a paged history request (QueryEvents,
 * ListDeadLetters): its patterns, its limit and the page it starts at,
 * checked the same way for each.
 */
import { patternError } from "@protobus/sdk/internal";
import type { FieldViolation } from "../errors.js";
import { decodePageToken } from "./page-token.js";

/** The fields a paged request shares. */
export interface PagedRequest {
  /** Event type patterns; none for every type. */
  readonly patterns: readonly string[];
  /** Most items on the page; 0 for the default. */
  readonly limit: number;
  /** First sequence asked for; 0 for the first one. */
  readonly fromSequence: bigint;
  /** The token of a previous page's `next_page_token`; "" for the first page. */
  readonly pageToken: string;
}

/**
 * Checks each pattern's syntax, the limit against `maxLimit` and the page
 * token, in that order, adding a violation to `violations` for each fault.
 * Returns the sequence the page starts at: the later of `fromSequence`
 * (at least 1) and the token's.
 */
export function pageStart(request: PagedRequest, maxLimit: number, violations: FieldViolation[]): bigint {
  request.patterns.forEach((pattern, i) => {
    const error = patternError(pattern);
    if (error !== undefined) violations.push({ field: `patterns[${i}]`, description: error, reason: "PATTERN" });
  });
  if (request.limit > maxLimit) {
    violations.push({ field: "limit", description: `must be at most ${maxLimit}, got ${request.limit}`, reason: "OUT_OF_RANGE" });
  }
  let from = request.fromSequence > 0n ? request.fromSequence : 1n;
  if (request.pageToken !== "") {
    const token = decodePageToken(request.pageToken);
    if (token === undefined) violations.push({ field: "page_token", description: "is not a token this server issued", reason: "INVALID" });
    else if (token > from) from = token;
  }
  return from;
}
