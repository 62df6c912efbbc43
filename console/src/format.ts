/** Formatting shared by the views. */
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** `12:03:04.123` for today, else the date too. */
export function formatTime(timestamp: Timestamp | undefined): string {
  if (timestamp === undefined) return "";
  const date = timestampDate(timestamp);
  const time = date.toISOString();
  const today = new Date().toISOString().slice(0, 10);
  return time.startsWith(today) ? time.slice(11, 23) : `${time.slice(0, 10)} ${time.slice(11, 23)}`;
}

/** Milliseconds between two timestamps. */
export function millisBetween(from: Timestamp | undefined, to: Timestamp | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  return timestampDate(to).getTime() - timestampDate(from).getTime();
}

/** `1.2 s`, `350 ms`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** The trace id of a W3C `traceparent`, or empty. */
export function traceIdOf(traceparent: string): string {
  const parts = traceparent.split("-");
  return parts.length >= 4 && /^[0-9a-f]{32}$/.test(parts[1] ?? "") ? (parts[1] as string) : "";
}

/** Splits `a.>, b.*` into patterns. */
export function splitPatterns(text: string): string[] {
  return text
    .split(/[,\s]+/)
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

/** A number with thousands separators. */
export function formatCount(value: number | bigint): string {
  return value.toLocaleString("en-US");
}
