// What this build of protobus (and this machine) can run. Scenarios name
// the capabilities they need; a missing one makes the scenario report
// "not available" instead of a number.
import { execFileSync } from "node:child_process";

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
