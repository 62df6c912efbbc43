// A protobus server under test, in its own process, on a free port.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { startServer } from "@protobus/server";
import { serveRole, tempDir } from "../lib/procs.mjs";
import { startTracingTo } from "../lib/tracing.mjs";

serveRole(async ({ store, config = {}, tracingEndpoint }) => {
  const tracing = tracingEndpoint === undefined ? undefined : await startTracingTo(tracingEndpoint, "protobus");
  const data = tempDir("server");
  const server = await startServer({ host: "127.0.0.1", port: 0, store, dataDir: data.dir, logLevel: "error", ...config });
  return {
    info: { address: server.address },
    commands: {
      /**
       * V8 and native memory of the server process, in bytes, as it is and
       * after a full garbage collection (what is actually retained).
       */
      memory: () => {
        const asIs = process.memoryUsage();
        setFlagsFromString("--expose-gc");
        runInNewContext("gc")();
        return { asIs, afterFullGc: process.memoryUsage() };
      },
    },
    async close() {
      await server.shutdown();
      await tracing?.shutdown();
      data.remove();
    },
  };
});
