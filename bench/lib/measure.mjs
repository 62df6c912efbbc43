// One measurement of one side: throughput over a fixed window after a
// warm-up, latency percentiles, or server memory after a fixed load.
import { join } from "node:path";
import { processMemory, startCpuMeter } from "./machine.mjs";
import { forkSettings } from "./procs.mjs";
import { startRig } from "./rig.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when an error says the server does not offer a capability yet. */
export function isUnavailable(error) {
  return error?.unavailable === true || /UNIMPLEMENTED|\b12 UNIMPLEMENTED|not available on this server/i.test(String(error?.message ?? error));
}

/**
 * Measures `side` once. Resolves to `{ value, cpu, ...details }`, where
 * `value` is the rate (per second), the latency percentiles or the memory,
 * depending on `kind`.
 */
export async function measureOnce(side, kind, settings, label) {
  const rig = await startRig(side, label);
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
    await rig.start();
    await sleep(settings.warmupMs);
    if (kind === "latency") await rig.loadgen.call("mark");
    const profiling = forkSettings.profileDir !== undefined;
    if (profiling) await Promise.all(rig.roles.map((role) => role.call("profile-start")));
    const meter = startCpuMeter(rig.pids);
    const first = await rig.loadgen.call("snapshot");
    await sleep(settings.windowMs);
    const last = await rig.loadgen.call("snapshot");
    const cpu = meter.stop();
    if (profiling) {
      const stamp = Date.now();
      await Promise.all(rig.roles.map((role) => role.call("profile-stop", { file: join(forkSettings.profileDir, `${role.name}-${stamp}.cpuprofile`) })));
    }
    const latencies = kind === "latency" ? await rig.loadgen.call("latencies") : undefined;
    await rig.loadgen.call("stop");
    const rate = ((last.count - first.count) * 1e9) / (last.ns - first.ns);
    if (kind === "latency") return { value: latencies, rate, idle, cpu };
    return { value: rate, idle, cpu };
  } finally {
    await rig.close();
  }
}
