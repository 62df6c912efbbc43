/**
 * The flow monitor raises alerts as events on the bus: a flow with no
 * terminal event within the threshold, and a type whose rate spikes beyond
 * N standard deviations of its sliding window; steady traffic and finished
 * flows raise nothing. Windows are short so that the test is quick.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReceivedEvent } from "@protobus/sdk";
import { freePort, startTestServer, waitFor, type TestServer } from "../support/test-server.js";
import { parsePrometheusText } from "./prometheus-text.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("flow monitor", () => {
  let t: TestServer;
  const alerts: ReceivedEvent[] = [];
  beforeAll(async () => {
    t = await startTestServer({
      store: "memory",
      metricsPort: await freePort(),
      flowSlowAfterMs: 400,
      flowStartTypes: ["*.placed"],
      flowTerminalTypes: ["*.completed", "*.failed", "*.cancelled"],
      rateSpikeSigma: 4,
      rateWindowMs: 4_000,
      rateBucketMs: 400,
      rateSpikeMinCount: 10,
    });
    const sub = t.client.subscribe("protobus.alert.>", (event) => {
      alerts.push(event);
    });
    await sub.opened();
  });
  afterAll(() => t.close());

  const alertsOf = (type: string) => alerts.filter((a) => a.type === type);

  it("alerts on a flow without a terminal event, not on finished or unwatched ones", async () => {
    const slow = await t.client.publish({ type: "order.placed", correlationId: "slow-1", data: {} });
    await t.client.publish({ type: "order.paid", correlationId: "slow-1", data: {} });
    await t.client.publish({ type: "order.placed", correlationId: "fast-1", data: {} });
    await t.client.publish({ type: "order.completed", correlationId: "fast-1", data: {} });
    await t.client.publish({ type: "order.placed", correlationId: "fast-2", data: {} });
    await t.client.publish({ type: "order.cancelled", correlationId: "fast-2", data: {} });
    // Not opened by a start type: not watched.
    await t.client.publish({ type: "order.noted", correlationId: "unwatched-1", data: {} });
    await waitFor(() => alertsOf("protobus.alert.flow_slow").length > 0, 10_000, "a flow_slow alert");
    // Give the other flows the same time to be (wrongly) reported.
    await sleep(800);
    const slowAlerts = alertsOf("protobus.alert.flow_slow");
    expect(slowAlerts).toHaveLength(1);
    const alert = slowAlerts[0] as ReceivedEvent;
    expect(alert).toMatchObject({ source: "protobus/flow-monitor", correlationId: "slow-1", causationId: slow.id });
    expect(alert.json()).toMatchObject({
      correlationId: "slow-1",
      firstEventId: slow.id,
      firstEventType: "order.placed",
      lastEventType: "order.paid",
      eventCount: 2,
      thresholdMs: 400,
    });
    expect(alert.json<{ ageMs: number }>().ageMs).toBeGreaterThanOrEqual(400);
    // A terminal event arriving after the alert does not raise another.
    await t.client.publish({ type: "order.completed", correlationId: "slow-1", data: {} });
    await sleep(600);
    expect(alertsOf("protobus.alert.flow_slow")).toHaveLength(1);
  });

  it("alerts on a rate spike and not on steady traffic", async () => {
    // Two types at once: `metric.sample.taken` steady at ~50 per bucket,
    // `job.run.started` at ~10 per bucket, then a burst of 200.
    // A slow tick is not made up for: catching up would be a burst.
    const start = Date.now();
    while (Date.now() - start < 3_600) {
      await t.client.publish([
        ...Array.from({ length: 10 }, () => ({ type: "metric.sample.taken", data: {} })),
        ...Array.from({ length: 2 }, () => ({ type: "job.run.started", data: {} })),
      ]);
      await sleep(80);
    }
    expect(alertsOf("protobus.alert.rate_spike")).toEqual([]);
    await t.client.publish(Array.from({ length: 200 }, () => ({ type: "job.run.started", data: {} })));
    await waitFor(() => alertsOf("protobus.alert.rate_spike").length > 0, 5_000, "a rate_spike alert");
    await sleep(500);
    const spikes = alertsOf("protobus.alert.rate_spike");
    expect(spikes).toHaveLength(1);
    const spike = (spikes[0] as ReceivedEvent).json<{ eventType: string; count: number; baselineMean: number; sigmas: number; threshold: number }>();
    expect(spike.eventType).toBe("job.run.started");
    expect(spike.count).toBeGreaterThan(spike.baselineMean * 4);
    expect(spike.baselineMean).toBeLessThan(spike.count / 4);
    expect(spike.sigmas).toBeGreaterThan(4);
    expect(spike.threshold).toBe(4);
  });

  it("counts every alert in metrics", async () => {
    const response = await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`);
    const metrics = parsePrometheusText(await response.text());
    expect(metrics.value("protobus_alerts_total", { kind: "flow_slow" })).toBe(alertsOf("protobus.alert.flow_slow").length);
    expect(metrics.value("protobus_alerts_total", { kind: "rate_spike" })).toBe(alertsOf("protobus.alert.rate_spike").length);
    // The steady and spiky traffic opened no watched flow.
    expect(alerts.map((a) => a.type).sort()).toEqual(["protobus.alert.flow_slow", "protobus.alert.rate_spike"]);
  });
});
