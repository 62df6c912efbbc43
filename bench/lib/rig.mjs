// A rig is one side of a comparison: the server under test (a protobus
// server, the raw grpc-js baseline or nats-server) plus a load generator,
// each in its own process, started fresh for every measurement.
import { startOtlpSink } from "./otlp-sink.mjs";
import { startNatsServer, startRole } from "./procs.mjs";

/**
 * Starts the processes of `side` and the workload in the load generator.
 * `side.build`, when set, is the folder of another build of protobus whose
 * packages the server and the load generator import (`--compare`).
 */
export async function startRig(side, label) {
  const processes = [];
  const workloadPids = [];
  let server;
  let stopNats;
  let sink;
  try {
    let target;
    // Tracing on: server and load generator export spans to a local sink.
    if (side.tracing === true) sink = await startOtlpSink();
    const tracingEndpoint = sink?.url;
    if (side.server.kind === "nats") {
      const nats = await startNatsServer();
      if (nats === undefined) throw Object.assign(new Error("nats-server is not installed"), { unavailable: true });
      stopNats = () => nats.stop();
      target = { url: nats.url };
      processes.push({ pid: nats.pid });
    } else {
      const role = side.server.kind === "raw-grpc" ? "raw-grpc-server" : "protobus-server";
      let config = side.server.config ?? {};
      if (side.server.nats === true) {
        const nats = await startNatsServer();
        if (nats === undefined) throw Object.assign(new Error("nats-server is not installed"), { unavailable: true });
        stopNats = () => nats.stop();
        processes.push({ pid: nats.pid });
        config = side.server.configFor(nats.url);
      }
      // Only a protobus server runs another build; the raw baseline has none.
      const serverBuild = role === "protobus-server" ? { build: side.build } : {};
      server = await startRole(role, { store: side.server.store, config, tracingEndpoint }, `${label}-server`, serverBuild);
      processes.push(server);
      target = { address: server.info.address, ...(server.info.consoleUrl !== undefined ? { consoleUrl: server.info.consoleUrl } : {}), tracingEndpoint, ...server.info.client };
    }
    const loadgen = await startRole("loadgen", {}, `${label}-loadgen`, { build: side.build });
    processes.push(loadgen);
    return {
      /** The processes driven over IPC (server role, load generator). */
      roles: processes.filter((p) => p.call !== undefined),
      serverPid: server?.pid ?? processes[0].pid,
      /** The entry point of the protobus server that runs, if one does. */
      serverPackage: server?.info.serverPackage,
      pids: () => processes.map((p) => p.pid),
      /** Processes the workload started besides the load generator (a latency workload's receiver). */
      workloadPids,
      loadgen,
      /** Starts the side's workload; options get the server's address or URL. */
      async start(extra = {}) {
        const info = await loadgen.call("start", { workload: side.workload, options: { ...side.options, ...target, ...extra } });
        // A workload that runs part of itself in processes of its own names
        // them, so that their CPU counts as ours, not as other work.
        for (const pid of info?.pids ?? []) {
          processes.push({ pid });
          workloadPids.push(pid);
        }
        return info;
      },
      /** What the OTLP sink received, when tracing is on. */
      tracingStats: () => sink?.stats(),
      async close() {
        for (const p of [...processes].reverse()) await p.stop?.().catch(() => undefined);
        await stopNats?.();
        await sink?.stop();
      },
    };
  } catch (error) {
    for (const p of [...processes].reverse()) await p.stop?.().catch(() => undefined);
    await stopNats?.();
    await sink?.stop();
    throw error;
  }
}
