/**
 * The resident memory of a process (a `protobus serve` child), read from
 * /proc: what the machine pays for it, heap and native buffers together.
 */
import { readFileSync } from "node:fs";

/** Resident set size of `pid` in bytes (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Bytes as MiB, for messages. */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
