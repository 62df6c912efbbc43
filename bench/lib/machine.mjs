// What the machine is and how busy it is: /proc/stat for the whole machine,
// /proc/<pid>/stat for the processes of the benchmark, so that load from
// other work on a shared machine can be told apart from our own.
import { readFileSync } from "node:fs";
import os from "node:os";
import { execFileSync } from "node:child_process";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Busy and total jiffies of the whole machine (all cores). */
function readMachineTicks() {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0); // idle + iowait
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** CPU jiffies (user + system) used by one process so far; 0 once it is gone. */
function readProcessTicks(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/**
 * Starts measuring CPU use. `stop()` returns how many cores the machine kept
 * busy, how many our processes (`pids()`, plus this one) used, and the rest:
 * load from other work.
 */
export function startCpuMeter(pids) {
  const each = () => new Map([process.pid, ...pids()].map((pid) => [pid, readProcessTicks(pid)]));
  const machine0 = readMachineTicks();
  const each0 = each();
  const t0 = performance.now();
  return {
    /**
     * Cores busy on the machine, with our processes, and with other work;
     * `seconds` of CPU each of our processes used (by pid).
     */
    stop() {
      const machine1 = readMachineTicks();
      const seconds = (performance.now() - t0) / 1000;
      if (machine0 === undefined || machine1 === undefined || seconds <= 0) return { busyCores: 0, ourCores: 0, foreignCores: 0, cpuSeconds: {} };
      const cores = os.cpus().length;
      const busyCores = ((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * cores;
      const cpuSeconds = {};
      let ourTicks = 0;
      for (const [pid, ticks] of each()) {
        const used = ticks - (each0.get(pid) ?? ticks);
        ourTicks += used;
        cpuSeconds[pid] = used / TICKS_PER_SECOND;
      }
      const ourCores = ourTicks / TICKS_PER_SECOND / seconds;
      return { busyCores, ourCores, foreignCores: Math.max(0, busyCores - ourCores), cpuSeconds };
    },
  };
}

/** A timer of the harness that fired this much later than asked counts as a stall (ms). */
export const STALL_MS = 2;

/**
 * Watches how late a 1 ms timer of this (otherwise sleeping) process fires
 * during a window, so that a latency figure can be read beside the stalls
 * every process of the machine suffered in that window: a thread that is
 * ready and gets no CPU for a few ms (the other processes of the benchmark
 * hold both cores, or the machine stops all of them at once). Costs a timer
 * callback per millisecond. `stop()` returns how many times the timer was
 * late by {@link STALL_MS} or more, the longest and the summed lateness.
 */
export function startStallProbe() {
  let count = 0;
  let longestMs = 0;
  let totalMs = 0;
  let last = performance.now();
  let running = true;
  const tick = () => {
    if (!running) return;
    const now = performance.now();
    const late = now - last - 1;
    if (late >= STALL_MS) {
      count += 1;
      totalMs += late;
      longestMs = Math.max(longestMs, late);
    }
    last = now;
    setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  return {
    stop() {
      running = false;
      return { count, longestMs, totalMs };
    },
  };
}

/** How many cores other work keeps busy, sampled over `ms` while we are idle. */
export async function sampleForeignLoad(ms, pids) {
  const meter = startCpuMeter(pids);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return meter.stop().foreignCores;
}

/** Resident set size and its peak, in bytes, of a process. */
export function processMemory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), peakRss: kb("VmHWM") };
}

/** The checkout's commit, marked `-dirty` (as `git describe --dirty` does) when tracked files differ from it. */
function gitCommit() {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const changed = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim();
    return changed === "" ? commit : `${commit}-dirty`;
  } catch {
    return "unknown";
  }
}

/** A description of the machine and software the run measured. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpuModel: cpus[0]?.model ?? "unknown",
    cpus: cpus.length,
    totalMemoryBytes: os.totalmem(),
    loadAverage: os.loadavg(),
    node: process.version,
    commit: gitCommit(),
  };
}
