/**
 * SQL text an outbox writes. Table and schema names it is configured with
 * are checked against a plain identifier pattern, never escaped; values
 * written as literals (see `publishAndCommit`) are escaped-string literals.
 */
import { Buffer } from "node:buffer";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;

/** The name when it is a plain SQL identifier; throws a RangeError naming `what` otherwise. */
export function sqlIdentifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new RangeError(`${what} '${name.slice(0, 64)}' must be a plain SQL identifier (letters, digits, _; at most 48 characters)`);
  }
  return name;
}

/** A stable 31-bit number for a name (FNV-1a), used as an advisory lock key. */
export function lockKey(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}

/**
 * A PostgreSQL escape-string literal of `text` (`E'...'`: quotes and
 * backslashes doubled), read the same whatever `standard_conforming_strings`
 * says. The text must not hold NUL, which no PostgreSQL text can.
 */
export function sqlLiteral(text: string): string {
  return `E'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** A PostgreSQL `bytea` literal of `bytes`, in hex. */
export function sqlByteaLiteral(bytes: Uint8Array): string {
  return `E'\\\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}'::bytea`;
}
