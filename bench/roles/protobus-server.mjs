// A protobus server under test, in its own process, on a free port.
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { startServer } from "@protobus/server";
import { serveRole, tempDir } from "../lib/procs.mjs";
import { startTracingTo } from "../lib/tracing.mjs";
import { secureSetup } from "../lib/secure-setup.mjs";

serveRole(async ({ store, config = {}, tracingEndpoint }) => {
  const tracing = tracingEndpoint === undefined ? undefined : await startTracingTo(tracingEndpoint, "protobus", { contextManager: false });
  const data = tempDir("server");
  const { secure = false, ...serverConfig } = config;
  const security = secure ? await secureSetup(data.dir) : undefined;
  // `consolePort: "free"` turns the web console on at a free port.
  const consolePort = serverConfig.consolePort === "free" ? await freePort() : serverConfig.consolePort;
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    store,
    dataDir: data.dir,
    logLevel: "error",
    ...security?.config,
    ...serverConfig,
    ...(consolePort !== undefined ? { consolePort } : {}),
  });
  return {
    // With security on, the load generator connects with the CA and the token.
    info: {
      address: server.address,
      // Which build of the server runs (another one with --compare).
      serverPackage: fileURLToPath(import.meta.resolve("@protobus/server")),
      ...(server.consoleUrl !== undefined ? { consoleUrl: server.consoleUrl } : {}),
      ...(security !== undefined ? { client: security.client } : {}),
    },
    commands: {
      /**
       * V8 and native memory of the server process, in bytes, as it is and
       * after a full garbage collection (what is actually retained), and the
       * V8 heap by space.
       */
      memory: () => {
        const asIs = process.memoryUsage();
        setFlagsFromString("--expose-gc");
        runInNewContext("gc")();
        // Per V8 space after that collection: the young generation keeps
        // its grown semi-spaces committed even when empty.
        const heapSpaces = Object.fromEntries(
          getHeapSpaceStatistics()
            .filter((s) => s.physical_space_size > 0)
            .map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size, physical: s.physical_space_size }]),
        );
        return { asIs, afterFullGc: process.memoryUsage(), heapSpaces };
      },
    },
    async close() {
      await server.shutdown();
      await tracing?.shutdown();
      data.remove();
    },
  };
});

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
