/**
 * Parsers of configuration values: each takes the raw text of one source and
 * the source's name, and throws a RangeError naming both when the text is
 * not a valid value.
 */

/** An integer from `min` to `max`. */
export function integer(min: number, max: number) {
  return (raw: string, from: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${from}: expected an integer from ${min} to ${max}, got '${raw}'`);
    }
    return value;
  };
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string, from: string): T => {
    if (!(values as readonly string[]).includes(raw)) {
      throw new RangeError(`${from}: expected one of ${values.join(", ")}, got '${raw}'`);
    }
    return raw as T;
  };
}

/** Text taken as it is. */
export function text(raw: string): string {
  return raw;
}

/** A finite number of 0 or more. */
export function nonNegativeNumber(raw: string, from: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0) throw new RangeError(`${from}: expected a number of 0 or more, got '${raw}'`);
  return value;
}

/** A comma-separated list; empty items are dropped. */
export function list(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** true/1/yes/on or false/0/no/off. */
export function boolean(raw: string, from: string): boolean {
  const value = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(value)) return true;
  if (["false", "0", "no", "off"].includes(value)) return false;
  throw new RangeError(`${from}: expected true or false, got '${raw}'`);
}

/** An http:// or https:// URL without trailing slashes, or empty. */
export function httpUrl(raw: string, from: string): string {
  if (raw === "") return raw;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RangeError(`${from}: expected an http:// or https:// URL, got '${raw}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError(`${from}: expected an http:// or https:// URL, got '${raw}'`);
  return raw.replace(/\/+$/, "");
}

/** Parses `1500`, `1500ms`, `30s`, `2m`, `1h`, `7d` into milliseconds. */
export function parseDurationMs(raw: string, from: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (match === null) throw new RangeError(`${from}: expected a duration like 500ms, 30s, 2m, 7d, got '${raw}'`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms" | "s" | "m" | "h" | "d"] ?? 1;
  return Math.round(Number(match[1]) * factor);
}
