// What this build of protobus (and this machine) can run. Scenarios name
// the capabilities they need; a missing one makes the scenario report
// "not available" instead of a number.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

const probes = {
  async "nats-server"() {
    try {
      execFileSync("nats-server", ["--version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  },
  async "jetstream-store"() {
    const { STORE_KINDS } = await import("@protobus/server");
    return STORE_KINDS.includes("jetstream");
  },
  async tracing() {
    const server = await import("@protobus/server");
    return typeof server.startTracing === "function";
  },
  async postgres() {
    const { default: pg } = await import("pg");
    const { BENCH_POSTGRES } = await import("../workloads/outbox.mjs");
    const client = new pg.Client({ connectionString: BENCH_POSTGRES, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  },
  async registry() {
    const { SERVED_SERVICES } = await import("@protobus/server");
    return SERVED_SERVICES.includes("protobus.v1.SchemaRegistry");
  },
};

const cache = new Map();

/** The capabilities in `names` that are missing. Unknown names count as missing. */
export async function missingCapabilities(names) {
  const missing = [];
  for (const name of names) {
    if (!cache.has(name)) cache.set(name, (await probes[name]?.()) ?? false);
    if (!cache.get(name)) missing.push(name);
  }
  return missing;
}

/**
 * The capabilities in `names` that the build of protobus in folder `build`
 * (see other-build.mjs) lacks, probed in a process that imports that build.
 */
export async function missingCapabilitiesOf(build, names) {
  if (names.length === 0) return [];
  const code = `const { missingCapabilities } = await import(${JSON.stringify(import.meta.url)}); console.log(JSON.stringify(await missingCapabilities(JSON.parse(process.argv[1]))));`;
  const { stdout } = await execFileAsync(process.execPath, ["--import", new URL("./build-register.mjs", import.meta.url).href, "--input-type=module", "-e", code, JSON.stringify(names)], {
    env: { ...process.env, PROTOBUS_BENCH_BUILD: build },
  });
  return JSON.parse(stdout.trim().split("\n").at(-1));
}
