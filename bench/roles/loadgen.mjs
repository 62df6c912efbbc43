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
      snapshot: () => ({ count: workload.count(), ns: Number(process.hrtime.bigint()) }),
      mark: () => workload.mark(),
      latencies: () => workload.latencies(),
      async stop() {
        await workload?.stop();
        workload = undefined;
        return {};
      },
    },
    close: async () => workload?.stop(),
  };
});
