/**
 * Dropping the fields a caller left undefined, so that spreading the rest
 * over defaults keeps the defaults of those fields.
 */

/** `value` without its undefined fields. */
export function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
