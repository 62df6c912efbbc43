// The load generator process: runs one workload at a time
// (bench/workloads/<name>.mjs) and answers counter snapshots, stamped with
// the machine-wide monotonic clock.
import { serveRole } from "../lib/procs.mjs";

serveRole(async () => {
  let workload;
  let startInfo;
  return {
    commands: {
      async start({ workload: name, options }) {
        const module = await import(`../workloads/${name}.mjs`);
        workload = await module.start(options);
        startInfo = workload.summary?.();
        return startInfo ?? {};
      },
      async snapshot() {
        // A workload split over two processes counts in the other one.
        const count = await workload.count();
        return { count, ns: Number(process.hrtime.bigint()) };
      },
      mark: () => workload.mark(),
      latencies: () => workload.latencies(),
      /** Runs another method of the workload: how a split workload drives its other half. */
      invoke: ({ method, args }) => workload[method](args),
      async stop() {
        await workload?.stop();
        workload = undefined;
        return {};
      },
    },
    close: async () => workload?.stop(),
  };
});
