// The before/after mode of the harness (`npm run bench -- --compare <rev>`):
// each scenario's protobus side, measured on another build ("before") and
// on this checkout ("after"), repeat by repeat, with the same harness,
// workloads and load generator code; only the packages of protobus (and
// what they depend on) differ.
import { judgeScenario, summarizeBuild } from "./compare-report.mjs";

/**
 * Which capabilities each build lacks; a scenario that needs one of them is
 * reported, not measured.
 */
async function unavailableReason(scenario, { missingBefore, missingAfter, beforeLabel }) {
  const names = scenario.requires ?? [];
  const after = await missingAfter(names);
  if (after.length > 0) return { status: "not available", reason: `needs ${after.join(", ")}` };
  const before = await missingBefore(names);
  if (before.length > 0) return { status: `not available on ${beforeLabel}`, reason: `${beforeLabel} lacks ${before.join(", ")}` };
  return undefined;
}

/**
 * Measures one scenario on both builds. `context` supplies `build` (the
 * other build's folder), `repeats`, `measure(scenario, side, label,
 * retries)` (one measurement, repeated while disturbed and retries last),
 * `shrink(side)` (the smoke settings), `describe(kind, m)`, `log`,
 * `missingBefore(names)`, `missingAfter(names)`, `beforeLabel`, `isUnavailable(error)`.
 */
export async function compareScenario(scenario, context) {
  const kind = scenario.kind ?? "rate";
  const base = { name: scenario.name, title: scenario.title, kind, unit: scenario.unit };
  const unavailable = await unavailableReason(scenario, context);
  if (unavailable !== undefined) return { ...base, ...unavailable };
  const subject = context.shrink(scenario.subject);
  const builds = [
    ["before", { ...subject, build: context.build }],
    ["after", subject],
  ];
  const measured = { before: [], after: [] };
  const retries = { left: scenario.maxRetries ?? context.maxRetries, used: 0 };
  for (let r = 0; r < context.repeats; r++) {
    // Before and after take turns going first, so drift in background load hits both.
    const order = r % 2 === 0 ? builds : [...builds].reverse();
    for (const [key, side] of order) {
      const label = `${scenario.name}-${key}`;
      let m;
      try {
        m = await context.measure(scenario, side, label, retries);
      } catch (error) {
        return { ...base, ...failure(key, error, context) };
      }
      measured[key].push(m);
      const cpu = m.cpuMicrosPerUnit?.server;
      const cpuNote = cpu !== undefined ? ` [server CPU per event ${cpu.toFixed(1)} µs]` : "";
      context.log(`  ${label} #${r + 1}: ${context.describe(kind, m)}${cpuNote}${m.disturbed ? " (under load)" : ""}`);
    }
    if (scenario.repeats === 1) break;
  }
  return {
    ...base,
    status: "measured",
    underLoad: [...measured.before, ...measured.after].some((m) => m.disturbed),
    retriesUsed: retries.used,
    before: { ...summarizeBuild(kind, measured.before), measurements: measured.before },
    after: { ...summarizeBuild(kind, measured.after), measurements: measured.after },
    judgement: judgeScenario(kind, measured.before, measured.after),
  };
}

/**
 * The line of an error that says what went wrong: a role that died on
 * start-up is reported as "exited before it was ready" followed by its
 * stderr, where the SyntaxError or TypeError that killed it is.
 */
export function causeOf(text) {
  const lines = text.split("\n");
  const cause = lines.slice(1).find((line) => /^\s*[A-Z][A-Za-z]*Error\b/.test(line) && !/^\s*Error: /.test(line));
  return (cause ?? lines[0]).trim();
}

/** How a scenario that threw on one build is reported: the cause first, then the whole error. */
function failure(key, error, context) {
  const text = String(error?.stack ?? error?.message ?? error);
  const reason = `${causeOf(text)}\n${text}`.slice(0, 2000);
  // The other build may lack what the scenario drives (an RPC, a setting, an SDK export).
  if (key === "before") return { status: `cannot run on ${context.beforeLabel}`, reason };
  return { status: context.isUnavailable(error) ? "not available" : "failed", reason };
}
