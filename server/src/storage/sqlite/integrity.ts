/**
 * The SQLite file's check at open. A store with damaged pages would serve
 * and accept writes, then fail replays half way with DATA_LOSS; so a server
 * checks the file before it serves (`PRAGMA quick_check` by default, the
 * slower `integrity_check`, which also compares every index with its table,
 * by `--sqlite-integrity-check full`) and refuses a damaged one with what
 * to do about it: `protobus recover`, which copies what can still be read
 * into a new file and keeps the damaged one aside.
 */
import type Database from "better-sqlite3";
import { Code, ProtobusError } from "@protobus/sdk";

/** How thoroughly the file is checked at open. */
export const INTEGRITY_CHECKS = ["quick", "full", "off"] as const;

/** `quick`: PRAGMA quick_check; `full`: PRAGMA integrity_check; `off`: none. */
export type IntegrityCheck = (typeof INTEGRITY_CHECKS)[number];

/** Problems reported at most, in the error and the log. */
const MAX_PROBLEMS = 10;

/**
 * Runs the check `mode` names on an open database and returns the problems
 * it reports (empty when the file is sound, or when `mode` is `off`).
 */
export function integrityProblems(db: Database.Database, mode: IntegrityCheck): string[] {
  if (mode === "off") return [];
  const pragma = mode === "full" ? "integrity_check" : "quick_check";
  const rows = db.pragma(`${pragma}(${MAX_PROBLEMS})`) as Array<Record<string, unknown>>;
  const problems = rows.map((row) => String(Object.values(row)[0]));
  return problems.length === 1 && problems[0] === "ok" ? [] : problems;
}

/** True when a better-sqlite3 error says the file is damaged or not a database. */
export function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB"));
}

/**
 * The error of a damaged store: FAILED_PRECONDITION (the server cannot serve
 * this file as it is), with the problems found and the way out.
 */
export function damagedStore(path: string, dataDir: string, problems: readonly string[], cause?: unknown): ProtobusError {
  const shown = problems.slice(0, MAX_PROBLEMS);
  return new ProtobusError(
    Code.FAILED_PRECONDITION,
    `the sqlite store ${path} is damaged and is not served: ${shown.join("; ")}. ` +
      `Stop every server on it and run \`protobus recover --data-dir ${dataDir}\`: it copies every event, group and schema ` +
      `that can still be read into a new events.db and keeps the damaged file next to it; ` +
      `or restore a backup. \`--sqlite-integrity-check off\` serves the damaged file as it is (reads of the damaged pages fail with DATA_LOSS).`,
    [
      {
        type: "PreconditionFailure",
        value: { violations: shown.map((problem) => ({ type: "SQLITE_INTEGRITY", subject: path, description: problem })) },
      },
    ],
    cause === undefined ? undefined : { cause },
  );
}
