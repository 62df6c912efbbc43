/**
 * Page tokens of QueryEvents: opaque to clients, they carry the sequence the
 * next page starts at.
 */
import type { FieldViolation } from "../errors.js";
import { MAX_SEQUENCE } from "../storage/backend.js";

const PREFIX = "pb1.";

export { MAX_SEQUENCE };

/** A violation when a requested sequence is past what any store can hold; undefined otherwise. */
export function sequenceViolation(sequence: bigint, field: string): FieldViolation | undefined {
  if (sequence <= MAX_SEQUENCE) return undefined;
  return { field, description: `must be at most ${MAX_SEQUENCE} (2^63 - 1), got ${sequence}`, reason: "OUT_OF_RANGE" };
}

/** Encodes the sequence the next page starts at. */
export function encodePageToken(nextSequence: bigint): string {
  return Buffer.from(`${PREFIX}${nextSequence}`).toString("base64url");
}

/** Decodes a token; undefined when it was not issued by this server. */
export function decodePageToken(token: string): bigint | undefined {
  const text = Buffer.from(token, "base64url").toString();
  if (!text.startsWith(PREFIX)) return undefined;
  const digits = text.slice(PREFIX.length);
  if (!/^[1-9][0-9]{0,18}$/.test(digits)) return undefined;
  const sequence = BigInt(digits);
  return sequence <= MAX_SEQUENCE ? sequence : undefined;
}
