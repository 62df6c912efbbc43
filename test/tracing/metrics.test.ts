/**
 * `/metrics` over real HTTP: the Prometheus text parses and the counters
 * have the values of what the test did.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createRegistryClient, type ProtobusError } from "@protobus/sdk";
import { loadConfig } from "@protobus/server";
import { freePort, spawnServer, startTestServer, waitFor, type TestServer } from "../support/test-server.js";
import { parsePrometheusText, type Exposition } from "./prometheus-text.js";

describe("Prometheus metrics", () => {
  let t: TestServer;
  let url: string;
  beforeAll(async () => {
    t = await startTestServer({ store: "memory", metricsPort: await freePort(), maxPayloadBytes: 64, flowSlowAfterMs: 0, rateSpikeSigma: 0 });
    url = `http://127.0.0.1:${t.server.metricsPort}/metrics`;
  });
  afterAll(() => t.close());

  const scrape = async (): Promise<Exposition> => {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await response.text());
  };

  it("counts publishes, deliveries, acks, nacks, validation failures and subscriptions", async () => {
    const before = await scrape();
    expect(before.types.get("protobus_events_published_total")).toBe("counter");
    expect(before.types.get("protobus_publish_duration_seconds")).toBe("histogram");
    expect(before.types.get("protobus_end_to_end_latency_seconds")).toBe("histogram");
    expect(before.types.get("protobus_group_backlog")).toBe("gauge");
    expect(before.value("protobus_large_requests_waiting")).toBe(0);
    expect(before.value("protobus_large_request_bytes_in_progress")).toBe(0);
    expect(before.value("protobus_large_request_bytes_waiting")).toBe(0);
    expect(before.value("protobus_active_subscriptions", { group: "" })).toBeUndefined();

    const handled: string[] = [];
    const sub = t.client.subscribe("metrics.>", (event) => {
      // The first delivery of the first event fails once: one nack, one redelivery.
      if (event.type === "metrics.task.created" && event.attempt === 1 && handled.length === 0) {
        handled.push("nacked");
        throw new Error("retry me");
      }
      handled.push(event.id);
    });
    await sub.opened();
    expect((await scrape()).value("protobus_active_subscriptions", { group: "" })).toBe(1);

    await t.client.publish([
      { type: "metrics.task.created", data: { n: 1 } },
      { type: "metrics.task.created", data: { n: 2 } },
      { type: "metrics.task.created", data: { n: 3 } },
    ]);
    await t.client.publish({ type: "metrics.task.done", data: {} });
    // A duplicate is not counted again.
    await t.client.publish({ type: "metrics.task.done", id: "same-id", data: {} });
    const duplicate = await t.client.publish({ type: "metrics.task.done", id: "same-id", data: {} });
    expect(duplicate.duplicate).toBe(true);
    // Rejected: the payload is over the 64-byte limit.
    const rejected = await t.client.publish({ type: "metrics.task.big", data: "x".repeat(100) }).catch((e: unknown) => e);
    expect((rejected as ProtobusError).code).toBe(Code.INVALID_ARGUMENT);

    await waitFor(() => handled.length === 6, 10_000, "every event handled");
    let m = await scrape();
    await waitFor(async () => {
      m = await scrape();
      return m.value("protobus_acks_total", { type: "metrics.task.done", group: "" }) === 2 &&
        m.value("protobus_acks_total", { type: "metrics.task.created", group: "" }) === 3;
    }, 10_000, "acks counted");

    expect(m.value("protobus_events_published_total", { type: "metrics.task.created" })).toBe(3);
    expect(m.value("protobus_events_published_total", { type: "metrics.task.done" })).toBe(2);
    expect(m.value("protobus_events_published_total", { type: "metrics.task.big" })).toBeUndefined();
    expect(m.value("protobus_validation_failures_total", { type: "metrics.task.big" })).toBe(1);
    expect(m.value("protobus_deliveries_total", { type: "metrics.task.created", group: "" })).toBe(4);
    expect(m.value("protobus_deliveries_total", { type: "metrics.task.done", group: "" })).toBe(2);
    expect(m.value("protobus_nacks_total", { type: "metrics.task.created", group: "" })).toBe(1);
    expect(m.value("protobus_nacks_total", { type: "metrics.task.done", group: "" })).toBeUndefined();
    expect(m.value("protobus_publish_duration_seconds_count")).toBe(4);
    expect(m.value("protobus_end_to_end_latency_seconds_count", { type: "metrics.task.created", group: "" })).toBe(3);
    expect(m.value("protobus_end_to_end_latency_seconds_bucket", { type: "metrics.task.created", group: "", le: "+Inf" })).toBe(3);
    expect(m.samples.some((s) => s.name === "process_resident_memory_bytes")).toBe(true);

    sub.close();
    await waitFor(async () => (await scrape()).value("protobus_active_subscriptions", { group: "" }) === 0, 10_000, "subscription closed");
  });

  it("counts consumer groups: deliveries, acks, nacks, dead letters, members and backlog", async () => {
    const workers = t.client.subscribe(
      "grp.>",
      (event) => {
        if (event.type === "grp.job.poison") throw new Error("cannot handle this one");
      },
      { group: "workers", maxDeliveries: 2, backoffMinMs: 10, backoffMaxMs: 20 },
    );
    // A group whose only member left: what is published for it waits in its backlog.
    const parked = t.client.subscribe("parked.>", () => undefined, { group: "parked" });
    await Promise.all([workers.opened(), parked.opened()]);
    parked.close();
    await waitFor(async () => (await scrape()).value("protobus_active_subscriptions", { group: "parked" }) === 0, 10_000, "parked member gone");
    expect((await scrape()).value("protobus_active_subscriptions", { group: "workers" })).toBe(1);

    await t.client.publish([
      { type: "grp.job.run", data: { n: 1 } },
      { type: "grp.job.run", data: { n: 2 } },
      { type: "grp.job.run", data: { n: 3 } },
      { type: "grp.job.poison", data: {} },
      { type: "parked.job.run", data: {} },
      { type: "parked.job.run", data: {} },
    ]);
    let m = await scrape();
    await waitFor(async () => {
      m = await scrape();
      return m.value("protobus_dead_letters_total", { type: "grp.job.poison", group: "workers" }) === 1 &&
        m.value("protobus_acks_total", { type: "grp.job.run", group: "workers" }) === 3;
    }, 10_000, "group settled");
    expect(m.value("protobus_deliveries_total", { type: "grp.job.run", group: "workers" })).toBe(3);
    expect(m.value("protobus_deliveries_total", { type: "grp.job.poison", group: "workers" })).toBe(2);
    expect(m.value("protobus_nacks_total", { type: "grp.job.poison", group: "workers" })).toBe(2);
    expect(m.value("protobus_acks_total", { type: "grp.job.poison", group: "workers" })).toBeUndefined();
    expect(m.value("protobus_end_to_end_latency_seconds_count", { type: "grp.job.run", group: "workers" })).toBe(3);
    expect(m.value("protobus_group_backlog", { group: "workers" })).toBe(0);
    expect(m.value("protobus_group_backlog", { group: "parked" })).toBe(2);
    workers.close();
  });

  it("counts payloads rejected by a registered schema, by type", async () => {
    const registry = createRegistryClient({ address: t.address });
    try {
      await registry.register("billing.invoice.issued", {
        jsonSchema: { type: "object", required: ["amount"], properties: { amount: { type: "number" } } },
      });
    } finally {
      registry.close();
    }
    const bad = await t.client
      .publish([
        { type: "billing.invoice.issued", data: { amount: 10 } },
        { type: "billing.invoice.issued", data: { amount: "ten" } },
      ])
      .catch((e: unknown) => e);
    expect((bad as ProtobusError).code).toBe(Code.INVALID_ARGUMENT);
    await t.client.publish({ type: "billing.invoice.issued", data: { amount: 11 } });
    const m = await scrape();
    // Only the bad event of the rejected batch counts as a failure; nothing of that batch was published.
    expect(m.value("protobus_validation_failures_total", { type: "billing.invoice.issued" })).toBe(1);
    expect(m.value("protobus_events_published_total", { type: "billing.invoice.issued" })).toBe(1);
  });

  it("answers 404 for anything but GET /metrics", async () => {
    const response = await fetch(url.replace("/metrics", "/other"));
    expect(response.status).toBe(404);
    await response.text();
  });

  it("is configured by --metrics-port, PROTOBUS_METRICS_PORT or metrics-port", async () => {
    expect(loadConfig({ env: {}, cwd: "/nonexistent" }).metricsPort).toBe(0);
    expect(loadConfig({ env: { PROTOBUS_METRICS_PORT: "9464" }, cwd: "/nonexistent" }).metricsPort).toBe(9464);
    expect(() => loadConfig({ env: { PROTOBUS_METRICS_PORT: "http" }, cwd: "/nonexistent" })).toThrow(/PROTOBUS_METRICS_PORT/);
    const port = await freePort();
    const server = await spawnServer(["--store", "memory", "--metrics-port", String(port)]);
    try {
      expect(server.output()).toContain(`metrics=http://127.0.0.1:${port}/metrics`);
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      const exposition = parsePrometheusText(await response.text());
      expect(exposition.types.get("protobus_events_published_total")).toBe("counter");
    } finally {
      await server.stop("SIGTERM");
    }
  });
});
