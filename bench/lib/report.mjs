// The table printed at the end of a run.
import { median } from "./stats.mjs";

function rate(value) {
  if (value >= 10_000) return `${(value / 1000).toFixed(0)}k`;
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return value.toFixed(0);
}

function mb(bytes) {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

function cell(kind, unit, summary) {
  if (summary === undefined) return "-";
  if (kind === "latency") {
    const p = (key) => (Number.isFinite(summary[key].median) ? summary[key].median.toFixed(2) : "n/a");
    return `p50 ${p("p50")} / p99 ${p("p99")} / p99.9 ${p("p999")} ms`;
  }
  if (kind === "memory") return `${mb(summary.median)} RSS`;
  const spread = summary.min === summary.max ? "" : ` [${rate(summary.min)}–${rate(summary.max)}]`;
  return `${rate(summary.median)} ${unit}${spread}`;
}

/** Median CPU µs per unit of work of a side's server and load generator, as `server/loadgen`; "-" where not measured. */
function cpuCell(side) {
  const measurements = side?.measurements ?? [];
  const of = (key) => median(measurements.map((m) => m.cpuMicrosPerUnit?.[key]).filter((v) => Number.isFinite(v)));
  const server = of("server");
  const loadgen = of("loadgen");
  if (Number.isNaN(server) && Number.isNaN(loadgen)) return "-";
  const f = (v) => (Number.isNaN(v) ? "?" : v.toFixed(1));
  return `${f(server)}/${f(loadgen)}`;
}

/** Renders results as a fixed-width text table. */
export function formatTable(results) {
  const header = ["scenario", "result (median [min–max])", "baseline", "baseline result", "ratio", "target", "met?", "CPU µs/unit server/loadgen: subject | baseline"];
  const rows = results.map((r) => {
    if (r.status !== "measured") return [r.name, r.status, "-", "-", "-", r.target ?? "-", "-", "-"];
    return [
      r.name + (r.underLoad ? " *" : ""),
      cell(r.kind, r.unit, r.subject),
      r.baseline?.label ?? "-",
      cell(r.kind, r.unit, r.baseline),
      r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : "-",
      r.target ?? "-",
      r.met === undefined ? "-" : r.met ? "met" : "MISSED",
      r.kind === "memory" ? "-" : `${cpuCell(r.subject)} | ${cpuCell(r.baseline)}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const out = ["", line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
  if (results.some((r) => r.underLoad)) out.push("", "* measured while other work loaded the machine (retries exhausted); read with care");
  const notes = results.filter((r) => r.status !== "measured");
  for (const r of notes) out.push(`${r.name}: ${r.status} (${r.reason.split("\n")[0]})`);
  return out.join("\n");
}
