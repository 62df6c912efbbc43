/**
 * Page tokens of QueryEvents: opaque to clients, they carry the sequence the
 * next page starts at.
 */
const PREFIX = "pb1.";

/** Encodes the sequence the next page starts at. */
export function encodePageToken(nextSequence: bigint): string {
  return Buffer.from(`${PREFIX}${nextSequence}`).toString("base64url");
}

/** Decodes a token; undefined when it was not issued by this server. */
export function decodePageToken(token: string): bigint | undefined {
  const text = Buffer.from(token, "base64url").toString();
  if (!text.startsWith(PREFIX)) return undefined;
  const digits = text.slice(PREFIX.length);
  return /^[1-9][0-9]{0,19}$/.test(digits) ? BigInt(digits) : undefined;
}
