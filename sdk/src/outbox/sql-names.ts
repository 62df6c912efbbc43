/**
 * Table and schema names an outbox is configured with end up in SQL text:
 * they are checked against a plain identifier pattern, never escaped.
 */

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
