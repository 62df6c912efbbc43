#!/usr/bin/env node
// `npm run bench [-- <scenario>...] [--repeats N] [--window S] [--warmup S] [--profile] [--list]`
// `npm run bench -- --compare <git-rev> [<scenario>...] [--repeats N]`
// `npm run bench -- --table <results.json>` prints the table of an earlier run
//
// Runs each scenario against its baseline in the same run, alternating the
// two sides, with fresh server and load-generator processes per
// measurement. Prints a table and writes JSON with machine info to
// bench/results/. With --compare, each scenario's protobus side runs on a
// build of <git-rev> and on this checkout instead (see lib/compare.mjs).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { machineInfo, sampleForeignLoad, STALL_MS } from "./lib/machine.mjs";
import { prepareDist } from "./lib/build-state.mjs";
import { forkSettings } from "./lib/procs.mjs";
import { isUnavailable, measureOnce } from "./lib/measure.mjs";
import { median, range } from "./lib/stats.mjs";
import { formatTable } from "./lib/report.mjs";
import { missingCapabilities, missingCapabilitiesOf } from "./lib/capabilities.mjs";
import { parseBenchArgs } from "./lib/args.mjs";
import { compareScenario } from "./lib/compare.mjs";
import { formatCompareTable } from "./lib/compare-report.mjs";
import { prepareBuild } from "./lib/other-build.mjs";
import { SCENARIOS } from "./scenarios/index.mjs";

const ROOT = new URL("..", import.meta.url).pathname;

let parsed;
try {
  parsed = parseBenchArgs(process.argv.slice(2));
} catch (error) {
  console.error(`${error.message}; see bench/README.md`);
  process.exit(2);
}
const { flags, positionals } = parsed;

if (flags.table !== undefined) {
  const saved = JSON.parse(readFileSync(flags.table, "utf8"));
  if (!Array.isArray(saved.scenarios)) {
    console.error(`${flags.table}: not the results of a bench run (no "scenarios")`);
    process.exit(2);
  }
  console.log(formatTable(saved.scenarios));
  process.exit(0);
}

// Every scenario is checked before anything runs, so a broken definition
// fails at once (and in the smoke test) instead of after minutes.
const KINDS = ["rate", "latency", "memory"];
const problems = [];
for (const s of SCENARIOS) {
  if (SCENARIOS.filter((other) => other.name === s.name).length > 1) problems.push(`${s.name}: name used twice`);
  if (!KINDS.includes(s.kind ?? "rate")) problems.push(`${s.name}: unknown kind ${s.kind}`);
  for (const side of [s.subject, s.baseline].filter((x) => x !== undefined)) {
    if (!existsSync(new URL(`./workloads/${side.workload}.mjs`, import.meta.url))) problems.push(`${s.name}: no workload ${side.workload}`);
    if (typeof side.label !== "string" || side.label === "") problems.push(`${s.name}: a side without a label`);
  }
  if (s.target !== undefined && (typeof s.target.text !== "string" || typeof s.target.check !== "function")) problems.push(`${s.name}: bad target`);
}
if (problems.length > 0) {
  console.error(`bad scenario definitions:\n  ${problems.join("\n  ")}`);
  process.exit(2);
}

if (flags.list) {
  for (const s of SCENARIOS) console.log(`${s.name.padEnd(28)} ${s.title}`);
  process.exit(0);
}

const unknown = positionals.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(", ")}; \`npm run bench -- --list\` lists them`);
  process.exit(2);
}
const selected = positionals.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => positionals.includes(s.name));

const RESULTS = flags.out ?? join(ROOT, "bench", "results");
const busyLimit = Number(flags["busy-cores"]);
const startedAt = Date.now();
const budgetMs = Number(flags["time-budget"]) * 1000;
const settings = {
  repeats: Math.max(1, Number(flags.repeats)),
  windowMs: Number(flags.window) * 1000,
  warmupMs: Number(flags.warmup) * 1000,
  maxRetries: Number(flags["max-retries"]),
  /** Waits (a bounded time) until other work leaves the machine idle; returns the load seen last. */
  async waitForIdle(pids) {
    if (flags.smoke) return { foreignCores: 0, idle: true, skipped: true };
    let foreign = 0;
    // Two samples at most: on a machine that stays busy, longer waits only
    // stretch the run (a full run measured ~90 times took 638 s with four).
    for (let attempt = 0; attempt < 2; attempt++) {
      foreign = await sampleForeignLoad(400, pids);
      if (foreign <= busyLimit) break;
    }
    return { foreignCores: round(foreign, 2), idle: foreign <= busyLimit };
  },
};

// The packages run from dist/: it is built first, or with --no-build checked.
const staleBuilds = prepareDist({ build: flags.build });
if (staleBuilds.length > 0) {
  process.stderr.write(`WARNING: --no-build, and dist/ is older than the sources of ${staleBuilds.join(", ")}: this run measures an earlier build\n`);
}
if (flags.profile) {
  forkSettings.profileDir = join(RESULTS, "profiles", new Date().toISOString().replace(/[:.]/g, "-"));
  mkdirSync(forkSettings.profileDir, { recursive: true });
}

function round(value, digits = 0) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** True when a measurement was disturbed by other work on the machine. */
function disturbed(m) {
  return !m.idle.idle || m.cpu.foreignCores > busyLimit;
}

// How long measurements take, to tell whether a repeat still fits the budget.
const pace = { measurements: 0, ms: 0, left: 0 };

/** True when repeating one more measurement still lets the run end within the time budget. */
function retryFits() {
  const average = pace.measurements === 0 ? 10_000 : pace.ms / pace.measurements;
  return Date.now() - startedAt + average * (pace.left + 1) <= budgetMs;
}

/** Measures one side, repeating a disturbed measurement while the retry budget lasts. */
async function measureSide(scenario, side, label, retries) {
  for (;;) {
    const windowMs = settings.windowMs * (scenario.windowFactor ?? 1);
    const warmupMs = settings.warmupMs * (scenario.warmupFactor ?? 1);
    const began = Date.now();
    const m = await measureOnce(side, scenario.kind ?? "rate", { ...settings, windowMs, warmupMs }, label);
    if ((scenario.kind ?? "rate") !== "memory") {
      pace.measurements += 1;
      pace.ms += Date.now() - began;
    }
    // The scenario's own warm-up, where it scales the run's (latency).
    if (warmupMs !== settings.warmupMs) m.warmupSeconds = warmupMs / 1000;
    m.disturbed = disturbed(m);
    const overBudget = !retryFits();
    if (!m.disturbed || retries.left <= 0 || overBudget) return m;
    retries.left -= 1;
    retries.used += 1;
    process.stderr.write(`  ${label}: disturbed (other work: ${m.idle.foreignCores} cores before, ${m.cpu.foreignCores.toFixed(2)} during), measuring again\n`);
  }
}

function summarize(kind, measurements) {
  if (measurements.length === 0) return undefined;
  if (kind === "latency") {
    const pick = (key) => measurements.map((m) => m.value[key]);
    return Object.fromEntries(["p50", "p99", "p999", "max"].map((key) => [key, { median: median(pick(key)), ...range(pick(key)) }]));
  }
  const values = measurements.map((m) => m.value);
  return { median: median(values), ...range(values) };
}

/** Smoke runs shrink the workload (e.g. 1M events to a few thousand). */
function shrinkFor(scenario) {
  return (side) => (flags.smoke && scenario.smokeOptions !== undefined ? { ...side, options: { ...side.options, ...scenario.smokeOptions } } : side);
}

async function runScenario(scenario) {
  const base = { name: scenario.name, title: scenario.title, kind: scenario.kind ?? "rate", unit: scenario.unit, target: scenario.target?.text };
  const missing = await missingCapabilities(scenario.requires ?? []);
  if (missing.length > 0) return { ...base, status: "not available", reason: `needs ${missing.join(", ")}` };
  const shrink = shrinkFor(scenario);
  const sides = [["subject", shrink(scenario.subject)]];
  if (scenario.baseline !== undefined) sides.push(["baseline", shrink(scenario.baseline)]);
  const measured = { subject: [], baseline: [] };
  const retries = { left: scenario.maxRetries ?? settings.maxRetries, used: 0 };
  try {
    for (let r = 0; r < settings.repeats; r++) {
      // Alternate which side goes first, so drift in background load hits both.
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const [key, side] of order) {
        const label = `${scenario.name}-${key}`;
        pace.left = Math.max(0, pace.left - 1);
        const m = await measureSide(scenario, side, label, retries);
        measured[key].push(m);
        const perUnit = m.cpuMicrosPerUnit;
        const cpuNote =
          perUnit?.server !== undefined ? ` [CPU per event: server ${perUnit.server.toFixed(1)} µs, load generator ${perUnit.loadgen?.toFixed(1)} µs]` : "";
        process.stderr.write(`  ${label} #${r + 1}: ${describe(base.kind, m)}${cpuNote}${m.disturbed ? " (under load)" : ""}\n`);
      }
      if (scenario.repeats === 1) break;
    }
  } catch (error) {
    if (isUnavailable(error)) return { ...base, status: "not available", reason: String(error.message).split("\n")[0].slice(0, 200) };
    return { ...base, status: "failed", reason: String(error?.stack ?? error).slice(0, 2000) };
  }
  const subject = summarize(base.kind, measured.subject);
  const baseline = summarize(base.kind, measured.baseline);
  const ratio = base.kind === "rate" && baseline !== undefined ? subject.median / baseline.median : undefined;
  const met = flags.smoke ? undefined : scenario.target?.check({ subject, baseline, ratio, measurements: measured.subject });
  return {
    ...base,
    status: "measured",
    underLoad: [...measured.subject, ...measured.baseline].some((m) => m.disturbed),
    retriesUsed: retries.used,
    subject: { label: scenario.subject.label, ...subject, measurements: measured.subject },
    ...(baseline !== undefined ? { baseline: { label: scenario.baseline.label, ...baseline, measurements: measured.baseline } } : {}),
    ...(ratio !== undefined ? { ratio } : {}),
    ...(met !== undefined ? { met } : {}),
  };
}

function ms(value) {
  return Number.isFinite(value) ? `${value.toFixed(2)} ms` : "n/a";
}

function describe(kind, m) {
  if (kind === "latency") {
    // The generator's own lateness says whether it kept the schedule at all.
    const lag = m.value.sent > 0 ? `; sent ${m.value.sent}, generator late p50 ${ms(m.value.sendLagP50)}, p99 ${ms(m.value.sendLagP99)}` : "";
    // How often an idle timer of the harness was held up in the same window (machine.mjs).
    const stalls = m.stalls === undefined ? "" : `; harness timer late ≥${STALL_MS} ms ${m.stalls.count}×, longest ${ms(m.stalls.longestMs)}`;
    return `p50 ${ms(m.value.p50)}, p99 ${ms(m.value.p99)}, p99.9 ${ms(m.value.p999)} (${m.value.samples} samples, ${Math.round(m.rate)}/s delivered${lag}${stalls})`;
  }
  if (kind === "memory") {
    const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
    const gc = m.memoryUsage.afterFullGc;
    return `RSS ${mb(m.value)}, peak ${mb(m.peakRss)} after ${m.published.toLocaleString("en-US")} events in ${m.publishSeconds.toFixed(1)} s; after a full GC: RSS ${mb(gc.rss)}, heap used ${mb(gc.heapUsed)}, array buffers ${mb(gc.arrayBuffers)}`;
  }
  return `${Math.round(m.value).toLocaleString("en-US")}/s`;
}

const machine = { ...machineInfo(), ...(staleBuilds.length > 0 ? { staleBuilds } : {}) };
console.log(`protobus bench: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, commit ${machine.commit}`);
console.log(
  `${settings.repeats} repeats, ${flags.warmup} s warm-up + ${flags.window} s window each; load average ${machine.loadAverage.map((l) => l.toFixed(2)).join(" ")}`,
);
/** Runs every selected scenario, one after the other, with `run(scenario)`. */
async function runAll(run) {
  const results = [];
  for (const scenario of selected) {
    process.stderr.write(`${scenario.name}: ${scenario.title}\n`);
    const scenarioStarted = Date.now();
    const result = { ...(await run(scenario)), durationSeconds: round((Date.now() - scenarioStarted) / 1000, 1) };
    if (result.status !== "measured") process.stderr.write(`  ${result.status}: ${result.reason}\n`);
    results.push(result);
  }
  return results;
}

const runSettings = {
  smoke: flags.smoke,
  repeats: settings.repeats,
  warmupSeconds: Number(flags.warmup),
  windowSeconds: Number(flags.window),
  busyCoresLimit: busyLimit,
  maxRetries: settings.maxRetries,
};

function writeReport(name, report) {
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${name}-${report.startedAt.replace(/[:.]/g, "-")}.json`);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(file, json);
  return { file, json };
}

/** Compares the protobus side of each selected scenario on a build of `rev` and on this checkout. */
async function runCompare(rev) {
  const log = (line) => process.stderr.write(`${line}\n`);
  const other = prepareBuild({ repoRoot: ROOT, rev, log });
  const removeBuild = () => other.remove();
  // An interrupted run leaves no build behind either.
  const interrupted = () => {
    removeBuild();
    process.exit(130);
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  const beforeLabel = `${rev} (${other.commit.slice(0, 7)})`;
  const afterLabel = `this checkout (${machine.commit})`;
  try {
    log(`${beforeLabel} built in ${other.seconds} s (dependencies: ${other.install.mode})`);
    pace.left = selected.length * settings.repeats * 2;
    const missingOnOther = new Map();
    const context = {
      build: other.dir,
      repeats: settings.repeats,
      maxRetries: settings.maxRetries,
      beforeLabel,
      measure: measureSide,
      describe,
      log,
      isUnavailable,
      missingAfter: missingCapabilities,
      async missingBefore(names) {
        const key = names.join(",");
        if (!missingOnOther.has(key)) missingOnOther.set(key, await missingCapabilitiesOf(other.dir, names));
        return missingOnOther.get(key);
      },
    };
    const results = await runAll((scenario) => compareScenario(scenario, { ...context, shrink: shrinkFor(scenario) }));
    console.log(formatCompareTable(results, { beforeLabel, afterLabel }));
    const report = {
      startedAt: new Date(startedAt).toISOString(),
      durationSeconds: round((Date.now() - startedAt) / 1000, 1),
      machine: { ...machine, loadAverageAtEnd: machineInfo().loadAverage },
      compare: { rev, before: other.commit, after: machine.commit, install: other.install, buildSeconds: other.seconds },
      settings: runSettings,
      scenarios: results,
    };
    const { file } = writeReport(`compare-${other.commit.slice(0, 7)}`, report);
    console.log(`\nresults: ${file} (${report.durationSeconds} s)`);
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    removeBuild();
  }
}

if (flags.compare !== undefined) {
  await runCompare(flags.compare);
} else {
  // Measurements still to come (a stalled-subscriber run counts as a few).
  pace.left = selected.reduce((n, s) => n + (s.kind === "memory" ? 6 : settings.repeats * (s.baseline === undefined ? 1 : 2)), 0);
  const results = await runAll(runScenario);
  console.log(formatTable(results));
  const report = {
    startedAt: new Date(startedAt).toISOString(),
    durationSeconds: round((Date.now() - startedAt) / 1000, 1),
    machine,
    settings: runSettings,
    scenarios: results,
  };
  const { file, json } = writeReport("run", report);
  if (positionals.length === 0 && !flags.smoke) writeFileSync(join(RESULTS, "latest.json"), json);
  console.log(`\nresults: ${file}${forkSettings.profileDir ? `\nCPU profiles: ${forkSettings.profileDir}` : ""} (${report.durationSeconds} s)`);
}
