// The command line of `npm run bench`:
//   [scenario...] [--repeats N] [--window S] [--warmup S] [--profile] [--list]
//   [--smoke] [--out DIR] [--no-build] [--compare REV] [--table FILE]
import { parseArgs } from "node:util";

const OPTIONS = {
  repeats: { type: "string", default: "3" },
  window: { type: "string", default: "2" },
  warmup: { type: "string", default: "1" },
  "max-retries": { type: "string", default: "2" },
  "busy-cores": { type: "string", default: "0.3" },
  // The whole run should end within this many seconds: a disturbed
  // measurement is repeated only while the rest still fits.
  "time-budget": { type: "string", default: "540" },
  profile: { type: "boolean", default: false },
  list: { type: "boolean", default: false },
  // A tiny run that only proves the harness works: short windows, one
  // repeat, few events, no idle wait or retries, no targets judged.
  smoke: { type: "boolean", default: false },
  // Where the JSON goes (default bench/results/).
  out: { type: "string" },
  // Skip `tsc -b` (when the caller has just built).
  build: { type: "boolean", default: true },
  // Measure each scenario's protobus side on a build of this git revision
  // ("before") and on this checkout ("after"), instead of against its baseline.
  compare: { type: "string" },
  // Print the table of a results JSON written by an earlier run (e.g.
  // bench/results/latest.json), measuring nothing.
  table: { type: "string" },
};

const NUMERIC = ["repeats", "window", "warmup", "max-retries", "busy-cores", "time-budget"];

/**
 * Parses the arguments of bench/run.mjs. Resolves to `{ flags, positionals }`
 * with the smoke settings applied; throws an Error whose message is meant
 * for the user on anything it cannot use.
 */
export function parseBenchArgs(args) {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS, allowNegative: true });
  } catch (error) {
    throw new Error(String(error?.message ?? error));
  }
  const { values: flags, positionals } = parsed;
  if (flags.smoke) {
    Object.assign(flags, { repeats: "1", warmup: "0.1", window: "0.3", "max-retries": "0", "busy-cores": "Infinity" });
  }
  for (const name of NUMERIC) {
    if (!(Number(flags[name]) >= 0)) throw new Error(`--${name} ${flags[name]}: not a number`);
  }
  if (flags.compare !== undefined && (flags.compare.trim() === "" || flags.compare.startsWith("-"))) {
    throw new Error(`--compare needs a git revision (a commit, branch or tag), got "${flags.compare}"`);
  }
  return { flags, positionals };
}
