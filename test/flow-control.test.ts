/**
 * Flow control: a subscriber never has more than max_in_flight unacked
 * deliveries; with manual credit, never more than it granted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SubscribeResponse } from "@protobus/sdk/proto";
import { startTestServer, waitFor, type TestServer } from "./support/test-server.js";

describe("flow control", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
    await t.client.publish(Array.from({ length: 100 }, (_, i) => ({ type: "flow.item.added", data: { i } })));
  });
  afterAll(() => t.close());

  function open(extra: { maxInFlight: number; manualCredit: boolean }) {
    const call = t.client.raw.subscribe();
    const deliveries: string[] = [];
    call.on("data", (r: SubscribeResponse) => {
      if (r.response?.$case === "delivery") deliveries.push(r.response.delivery.deliveryId);
    });
    call.on("error", () => undefined);
    call.write({
      request: {
        $case: "open",
        open: { patterns: ["flow.>"], group: "", start: { position: { $case: "earliest", earliest: {} } }, filter: "", batchDeliveries: false, ...extra },
      },
    });
    return { call, deliveries };
  }

  it("stops at max_in_flight until acks free the window", async () => {
    const { call, deliveries } = open({ maxInFlight: 7, manualCredit: false });
    await waitFor(() => deliveries.length === 7, 5000, "7 deliveries");
    await new Promise((r) => setTimeout(r, 200));
    expect(deliveries).toHaveLength(7);
    call.write({ request: { $case: "ack", ack: { deliveryIds: deliveries.slice(0, 3), confirm: false } } });
    await waitFor(() => deliveries.length === 10, 5000, "3 more deliveries");
    await new Promise((r) => setTimeout(r, 200));
    expect(deliveries).toHaveLength(10);
    call.cancel();
  });

  it("with manual credit sends only what was granted", async () => {
    const { call, deliveries } = open({ maxInFlight: 1000, manualCredit: true });
    await new Promise((r) => setTimeout(r, 200));
    expect(deliveries).toHaveLength(0);
    call.write({ request: { $case: "credit", credit: { count: 5 } } });
    await waitFor(() => deliveries.length === 5, 5000, "5 deliveries");
    call.write({ request: { $case: "ack", ack: { deliveryIds: deliveries.slice(), confirm: false } } });
    await new Promise((r) => setTimeout(r, 200));
    expect(deliveries).toHaveLength(5);
    call.write({ request: { $case: "credit", credit: { count: 20 } } });
    await waitFor(() => deliveries.length === 25, 5000, "25 deliveries");
    call.cancel();
  });

  it("redelivers a nacked event with the next attempt", async () => {
    const sub = t.client.subscribe("flow.>", { from: "earliest", autoAck: false, maxInFlight: 1 });
    let attempts: number[] = [];
    for await (const event of sub) {
      attempts.push(event.attempt);
      if (event.attempt === 1) event.nack(20);
      else {
        event.ack();
        break;
      }
    }
    expect(attempts).toEqual([1, 2]);
    attempts = [];
    sub.close();
  });

  it("sends heartbeats at the configured interval", async () => {
    const hb = await startTestServer({ store: "memory", heartbeatMs: 50 });
    try {
      const call = hb.client.raw.subscribe();
      let beats = 0;
      call.on("data", (r: SubscribeResponse) => {
        if (r.response?.$case === "heartbeat") beats += 1;
      });
      call.on("error", () => undefined);
      call.write({ request: { $case: "open", open: { patterns: [">"], group: "", maxInFlight: 0, manualCredit: false, filter: "", batchDeliveries: false } } });
      await waitFor(() => beats >= 3, 5000, "3 heartbeats");
      call.cancel();
    } finally {
      await hb.close();
    }
  });
});
