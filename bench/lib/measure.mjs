// One measurement of one side: throughput over a fixed window after a
// warm-up, latency percentiles, or server memory after a fixed load.
import { join } from "node:path";
import { processMemory, startCpuMeter, startStallProbe } from "./machine.mjs";
import { forkSettings } from "./procs.mjs";
import { startRig } from "./rig.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when an error says the server does not offer a capability yet. */
export function isUnavailable(error) {
  return error?.unavailable === true || /UNIMPLEMENTED|\b12 UNIMPLEMENTED|not available on this server/i.test(String(error?.message ?? error));
}

/**
 * With tracing on, what the OTLP sink received; a measurement whose spans
 * never reached it measured tracing off and is refused.
 */
function checkTracing(rig, label) {
  const stats = rig.tracingStats();
  if (stats === undefined) return {};
  if (stats.requests === 0 || stats.bytes === 0) throw new Error(`${label}: tracing is on but no span reached the OTLP receiver`);
  return { otlpExports: stats };
}

/**
 * Measures `side` once. Resolves to `{ value, cpu, ...details }`, where
 * `value` is the rate (per second), the latency percentiles or the memory,
 * depending on `kind`.
 */
export async function measureOnce(side, kind, settings, label) {
  const rig = await startRig(side, label);
  const measured = measureRig(rig, kind, settings, label);
  // Each measurement names the server build it ran (another one with --compare).
  return rig.serverPackage === undefined ? measured : { ...(await measured), serverPackage: rig.serverPackage };
}

async function measureRig(rig, kind, settings, label) {
  try {
    // Let the fresh processes settle, then check what else runs.
    const idle = await settings.waitForIdle(rig.pids);
    if (kind === "memory") {
      const meter = startCpuMeter(rig.pids);
      const summary = await rig.start();
      await sleep(1000);
      const memory = processMemory(rig.serverPid);
      const breakdown = await rig.roles[0].call("memory");
      const cpu = meter.stop();
      await rig.loadgen.call("stop");
      return { value: memory.rss, peakRss: memory.peakRss, memoryUsage: breakdown, ...summary, idle, cpu };
    }
    // Drain workloads size their backlog for this long (warm-up and window).
    const started = await rig.start({ measureSeconds: (settings.warmupMs + settings.windowMs) / 1000 });
    // What the workload says of itself (a drain's backlog and probe rate), kept in the JSON.
    const workload = started?.backlog !== undefined ? { workload: { backlog: started.backlog, probeRate: started.probeRate } } : {};
    // Warm-up starts once the workload moves (start-up on a busy machine can take a while).
    const moving = Date.now() + 30_000;
    while ((await rig.loadgen.call("snapshot")).count === 0 && Date.now() < moving) await sleep(50);
    await sleep(settings.warmupMs);
    if (kind === "latency") await rig.loadgen.call("mark");
    const profiling = forkSettings.profileDir !== undefined;
    if (profiling) await Promise.all(rig.roles.map((role) => role.call("profile-start")));
    const meter = startCpuMeter(rig.pids);
    // Latency is read beside the stalls the machine imposed in its window.
    const stallProbe = kind === "latency" ? startStallProbe() : undefined;
    const first = await rig.loadgen.call("snapshot");
    await sleep(settings.windowMs);
    let last = await rig.loadgen.call("snapshot");
    // A window too short to see one batch complete is stretched (bounded);
    // the rate is still counted over the time that actually passed.
    const stretched = Date.now() + 10_000;
    while (kind === "rate" && last.count === first.count && Date.now() < stretched) {
      await sleep(100);
      last = await rig.loadgen.call("snapshot");
    }
    const cpu = meter.stop();
    const stalls = stallProbe?.stop();
    if (profiling) {
      const stamp = Date.now();
      await Promise.all(rig.roles.map((role) => role.call("profile-stop", { file: join(forkSettings.profileDir, `${role.name}-${stamp}.cpuprofile`) })));
    }
    const latencies = kind === "latency" ? await rig.loadgen.call("latencies") : undefined;
    await rig.loadgen.call("stop");
    const windowSeconds = (last.ns - first.ns) / 1e9;
    const rate = (last.count - first.count) / windowSeconds;
    // A throughput workload that moved nothing is broken, not slow. (A
    // latency run may deliver nothing on a stalled machine: its samples
    // then say how late the events are.)
    if (kind === "rate" && last.count - first.count <= 0) throw new Error(`${label}: nothing was counted in the measurement window`);
    const tracing = checkTracing(rig, label);
    const counted = last.count - first.count;
    // CPU time per unit of work, per process: unlike the rate, hardly moved
    // by other work sharing the machine (time spent waiting costs none).
    const seconds = (pid) => cpu.cpuSeconds?.[pid];
    const micros = (...pids) => {
      const used = pids.map(seconds);
      return counted <= 0 || used.some((s) => s === undefined) ? undefined : (used.reduce((a, b) => a + b, 0) * 1e6) / counted;
    };
    if (kind === "latency") {
      // Per event delivered in the window; the load generator's figure is the
      // publisher's and the receiver's processes together. On a 2-core
      // machine what the three ask for at once is what a p99 waits behind.
      const cpuMicrosPerUnit = { server: micros(rig.serverPid), loadgen: micros(rig.loadgen.pid, ...rig.workloadPids) };
      return { value: latencies, rate, windowSeconds, idle, cpu, cpuMicrosPerUnit, stalls, ...tracing };
    }
    const cpuMicrosPerUnit = { server: micros(rig.serverPid), loadgen: micros(rig.loadgen.pid) };
    return { value: rate, counted, windowSeconds, idle, cpu, cpuMicrosPerUnit, ...tracing, ...workload };
  } finally {
    await rig.close();
  }
}
