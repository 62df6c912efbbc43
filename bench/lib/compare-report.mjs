// Judging and printing a before/after comparison of two builds
// (`npm run bench -- --compare <rev>`): per scenario the medians of each
// build, after/before, the server's CPU per event of each, and whether the
// change is worse by more than the threshold plus the run's own spread.
import { median, range } from "./stats.mjs";

/** How much worse (5%) a scenario may get, beyond its own spread, before it is flagged. */
export const WORSE_THRESHOLD = 0.05;

/**
 * How far one build's repeats stray from their median, as a fraction of it:
 * half of (max − min) / median. 0 for a single repeat.
 */
export function spread(values) {
  if (values.length < 2) return 0;
  const { min, max } = range(values);
  const mid = median(values);
  return mid > 0 ? (max - min) / (2 * mid) : 0;
}

/** The figure a scenario is compared by, from one measurement, and whether higher is better. */
export function scoreOf(kind) {
  if (kind === "latency") return { pick: (m) => m.value.p99, higherIsBetter: false, label: "p99" };
  if (kind === "memory") return { pick: (m) => m.value, higherIsBetter: false, label: "RSS" };
  return { pick: (m) => m.value, higherIsBetter: true, label: "rate" };
}

/**
 * Compares two lists of one figure (before, after). `worse` is the change
 * for the worse as a fraction (a rate 10% lower, a latency 10% higher: 0.1;
 * negative when better); `noise` the larger spread of the two; `flagged`
 * is true when worse exceeds the threshold plus that noise.
 */
export function compareFigures(before, after, { higherIsBetter, threshold = WORSE_THRESHOLD }) {
  if (before.length === 0 || after.length === 0) return undefined;
  const ratio = median(after) / median(before);
  const worse = higherIsBetter ? 1 - ratio : ratio - 1;
  const noise = Math.max(spread(before), spread(after));
  return { ratio, worse, noise, flagged: worse > threshold + noise };
}

/** The server's CPU µs per unit of work of each measurement that recorded it. */
function serverCpu(measurements) {
  return measurements.map((m) => m.cpuMicrosPerUnit?.server).filter((v) => Number.isFinite(v));
}

/**
 * The verdict of one measured scenario: `rate` (or p99, RSS) and
 * `serverCpu` comparisons, and `verdict`: "SLOWER" and/or "MORE CPU" when
 * flagged, "within spread" when worse by more than the threshold but not
 * beyond the spread, otherwise "ok".
 */
export function judgeScenario(kind, before, after, threshold = WORSE_THRESHOLD) {
  const score = scoreOf(kind);
  const figure = compareFigures(before.map(score.pick), after.map(score.pick), { higherIsBetter: score.higherIsBetter, threshold });
  const cpu = compareFigures(serverCpu(before), serverCpu(after), { higherIsBetter: false, threshold });
  const flags = [];
  if (figure?.flagged) flags.push(score.higherIsBetter ? "SLOWER" : `HIGHER ${score.label}`);
  if (cpu?.flagged) flags.push("MORE CPU");
  const nearly = [figure, cpu].some((c) => c !== undefined && c.worse > threshold);
  return { score: score.label, figure, cpu, verdict: flags.length > 0 ? flags.join(", ") : nearly ? "within spread" : "ok" };
}

/** Median and range of a build's figures, by the scenario's score, and of its server CPU per event. */
export function summarizeBuild(kind, measurements) {
  const values = measurements.map(scoreOf(kind).pick);
  const cpu = serverCpu(measurements);
  return {
    median: median(values),
    ...range(values),
    ...(cpu.length > 0 ? { serverCpuMicrosPerUnit: { median: median(cpu), ...range(cpu) } } : {}),
  };
}

function figureText(kind, value) {
  if (!Number.isFinite(value)) return "n/a";
  if (kind === "latency") return `${value.toFixed(2)} ms`;
  if (kind === "memory") return `${(value / 2 ** 20).toFixed(0)} MB`;
  if (value >= 10_000) return `${(value / 1000).toFixed(0)}k`;
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return value.toFixed(0);
}

function buildCell(kind, summary) {
  if (summary === undefined) return "-";
  const spreadText = summary.min === summary.max ? "" : ` [${figureText(kind, summary.min)}–${figureText(kind, summary.max)}]`;
  return `${figureText(kind, summary.median)}${spreadText}`;
}

function cpuCell(r) {
  const b = r.before?.serverCpuMicrosPerUnit?.median;
  const a = r.after?.serverCpuMicrosPerUnit?.median;
  if (b === undefined || a === undefined) return "-";
  return `${b.toFixed(1)} → ${a.toFixed(1)} (${r.judgement.cpu.ratio.toFixed(2)}x)`;
}

function percent(value) {
  return `±${(value * 100).toFixed(1)}%`;
}

/** Renders compared scenarios as a fixed-width text table with notes. */
export function formatCompareTable(results, { beforeLabel, afterLabel }) {
  const header = ["scenario", `before: ${beforeLabel}`, `after: ${afterLabel}`, "after/before", "server CPU µs/event", "spread", "verdict"];
  const rows = results.map((r) => {
    if (r.status !== "measured") return [r.name, r.status, "-", "-", "-", "-", "-"];
    const j = r.judgement;
    return [
      r.name + (r.underLoad ? " *" : ""),
      buildCell(r.kind, r.before),
      buildCell(r.kind, r.after),
      `${j.figure.ratio.toFixed(2)}x${j.score === "rate" ? "" : ` (${j.score})`}`,
      cpuCell(r),
      `${j.score} ${percent(j.figure.noise)}${j.cpu !== undefined ? `, CPU ${percent(j.cpu.noise)}` : ""}`,
      j.verdict,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const out = ["", line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
  out.push(
    "",
    `after/before: median of after over median of before (rates: below 1 is slower). Flagged when worse by more than ${WORSE_THRESHOLD * 100}% plus the spread (the larger half-range of either build's repeats, as a fraction of its median).`,
  );
  if (results.some((r) => r.underLoad)) out.push("* measured while other work loaded the machine (retries exhausted); read with care");
  for (const r of results.filter((x) => x.status !== "measured")) out.push(`${r.name}: ${r.status} (${r.reason.split("\n")[0]})`);
  return out.join("\n");
}
