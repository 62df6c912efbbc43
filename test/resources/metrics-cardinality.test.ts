/**
 * Issue 14, row 10: with `--metrics-port` on, every distinct event type
 * used to become a label of every per-type metric for good, rejected ones
 * included: 200 rejected publishes with unique 1 MB type strings grew the
 * server by 400 MB and `/metrics` to 200 MB. Now the distinct types are
 * capped (`--metrics-max-types`) and longer ones never get a label; the
 * rest are counted as `other`. Scaled down: 200 rejected 1 MB types (the
 * old code kept ~2 MB per type: ~400 MB; the bound, 128 MiB, leaves room
 * for the garbage of 200 MB of requests that the collector has not taken
 * back yet on a busy machine), 120 accepted distinct types against a cap
 * of 50.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ServiceError } from "@grpc/grpc-js";
import { Code, createClient } from "@protobus/sdk";
import { freePort } from "../support/free-port.js";
import { plainEventBus, plainUnary } from "../support/plain-client.js";
import { mib, rssBytes } from "../support/process-memory.js";
import { parsePrometheusText } from "../tracing/prometheus-text.js";
import { spawnServer, tempDir } from "../support/test-server.js";

describe("metrics label cardinality", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("caps distinct types and counts the rest as other", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const metricsPort = await freePort();
    const server = await spawnServer(["--data-dir", dir.path, "--metrics-port", String(metricsPort), "--metrics-max-types", "50"]);
    cleanups.push(() => server.stop("SIGKILL"));
    const plain = plainEventBus(server.address);
    cleanups.push(() => plain.close());
    const client = createClient({ address: server.address, source: "cardinality" });
    cleanups.push(() => client.close());
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

    // Warm up the paths a rejected publish takes, then measure.
    for (let i = 0; i < 5; i++) await plainUnary(plain, "Publish", { events: [{ type: `Warm${i}`.repeat(1000), source: "x" }] }).catch(() => undefined);
    await scrape();
    const before = rssBytes(server.process.pid as number);
    for (let i = 0; i < 200; i++) {
      const type = `${String(i).padStart(3, "0")}${"A".repeat(2 ** 20)}`;
      const error = await plainUnary(plain, "Publish", { events: [{ type, source: "x" }] }).then(
        () => undefined,
        (e: unknown) => e as ServiceError,
      );
      expect(error?.code).toBe(Code.INVALID_ARGUMENT);
    }
    for (let i = 0; i < 120; i++) await client.publish({ type: `card.kind${i}.created` });
    const text = await scrape();
    const after = rssBytes(server.process.pid as number);

    expect(text.length).toBeLessThan(2 * 2 ** 20);
    const exposition = parsePrometheusText(text);
    const published = exposition.samples.filter((s) => s.name === "protobus_events_published_total");
    const types = new Set(published.map((s) => s.labels.type));
    expect(types.size).toBeLessThanOrEqual(51);
    expect(types.has("other")).toBe(true);
    expect(published.reduce((n, s) => n + s.value, 0)).toBe(120);
    const failures = exposition.samples.filter((s) => s.name === "protobus_validation_failures_total");
    expect(failures.every((s) => s.labels.type === "other" || (s.labels.type ?? "").length <= 256)).toBe(true);
    expect(failures.reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(200);
    // GetDeliveryStats is capped the same way.
    const stats = await client.deliveryStats();
    expect(stats.types.length).toBeLessThanOrEqual(51);
    // 200 MB of type strings went through; none of it is kept.
    expect(after - before, `RSS grew from ${mib(before)} to ${mib(after)}`).toBeLessThan(128 * 2 ** 20);
  }, 60_000);
});
