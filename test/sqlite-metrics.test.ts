/**
 * The sqlite backend's own figures on `/metrics`: its checkpointer thread's
 * checkpoints and failures, the WAL's size, and the holds of commits that
 * let the WAL restart, with the time they held publishes. A backend without
 * figures of its own (memory) exports none of them.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, waitFor, type TestServer } from "./support/test-server.js";
import { freePort } from "./support/free-port.js";
import { scrapeMetrics } from "./hardening/support.js";
import { RESTART_FRAMES } from "../server/src/storage/sqlite/checkpointer.js";

/** Each metric of the sqlite store, with its Prometheus type. */
const TYPES: Record<string, string> = {
  protobus_sqlite_checkpoints_total: "counter",
  protobus_sqlite_checkpoint_failures_total: "counter",
  protobus_sqlite_commit_holds_total: "counter",
  protobus_sqlite_commit_held_seconds_total: "counter",
  protobus_sqlite_wal_frames: "gauge",
};

describe("the sqlite backend's metrics", () => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    for (const t of servers.splice(0)) await t.close();
  });

  it("counts the checkpointer's checkpoints and holds on /metrics, as counters, beside the WAL's size", async () => {
    const t = await startTestServer({ store: "sqlite", metricsPort: await freePort() });
    servers.push(t);
    const port = t.server.metricsPort as number;
    const before = await scrapeMetrics(port);
    for (const [name, type] of Object.entries(TYPES)) expect(before.types.get(name), name).toBe(type);
    for (let n = 0; n < 20; n++) {
      await t.client.publish(Array.from({ length: 50 }, (_, i) => ({ type: "metrics.item.added", data: { n, i } })));
    }
    // Each commit asks the thread for a checkpoint; it runs within its interval.
    await waitFor(async () => ((await scrapeMetrics(port)).value("protobus_sqlite_checkpoints_total") ?? 0) > 0, 10_000, "a checkpoint counted");
    const after = await scrapeMetrics(port);
    expect(after.value("protobus_sqlite_checkpoint_failures_total")).toBe(0);
    // 1,000 events of ~100 bytes in 20 commits: a few pages each, all still in the WAL or restarted.
    const walFrames = after.value("protobus_sqlite_wal_frames") as number;
    expect(walFrames).toBeGreaterThan(0);
    expect(walFrames).toBeLessThan(RESTART_FRAMES);
    const holds = after.value("protobus_sqlite_commit_holds_total") as number;
    const held = after.value("protobus_sqlite_commit_held_seconds_total") as number;
    expect(holds).toBeGreaterThanOrEqual(0);
    // No time held without a hold.
    if (holds === 0) expect(held).toBe(0);
    else expect(held).toBeGreaterThan(0);
  });

  it("exports none of them for the memory store", async () => {
    const t = await startTestServer({ store: "memory", metricsPort: await freePort() });
    servers.push(t);
    const metrics = await scrapeMetrics(t.server.metricsPort as number);
    for (const name of Object.keys(TYPES)) expect(metrics.types.has(name), name).toBe(false);
    // The server's own metrics are there.
    expect(metrics.types.get("protobus_memory_budget_bytes")).toBe("gauge");
  });
});
