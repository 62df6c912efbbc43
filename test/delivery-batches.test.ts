/**
 * Batched deliveries: a subscriber that opens with `batch_deliveries` gets
 * the deliveries that are ready together in `batch` responses (each still
 * acked or nacked on its own, bounded in size); one that does not gets one
 * `delivery` response per event, as before.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { SubscribeResponse, type Delivery, type SubscribeRequest } from "@protobus/sdk/proto";
import { startTestServer, waitFor, type TestServer } from "./support/test-server.js";

const EVENTS = 500;
/** The server's bound on the deliveries' bytes in one batch response. */
const MAX_BATCH_BYTES = 1024 * 1024;

interface Opened {
  readonly call: ClientDuplexStream<SubscribeRequest, SubscribeResponse>;
  /** Every delivery, in arrival order. */
  readonly deliveries: Delivery[];
  /** Per response carrying deliveries: its case, how many, its encoded size. */
  readonly responses: { kind: "delivery" | "batch"; count: number; bytes: number }[];
}

describe("batched deliveries (SQLite store)", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    for (let i = 0; i < EVENTS; i += 100) {
      await t.client.publish(Array.from({ length: 100 }, (_, j) => ({ type: "batch.item.added", data: { n: i + j } })));
    }
  });
  afterAll(() => t.close());

  function open(options: { batch: boolean; group?: string; patterns?: string[]; maxInFlight?: number }): Opened {
    const call = t.client.raw.subscribe();
    const deliveries: Delivery[] = [];
    const responses: Opened["responses"] = [];
    call.on("data", (r: SubscribeResponse) => {
      const bytes = SubscribeResponse.encode(r).finish().byteLength;
      if (r.response?.$case === "delivery") {
        deliveries.push(r.response.delivery);
        responses.push({ kind: "delivery", count: 1, bytes });
      } else if (r.response?.$case === "batch") {
        deliveries.push(...r.response.batch.deliveries);
        responses.push({ kind: "batch", count: r.response.batch.deliveries.length, bytes });
      }
    });
    call.on("error", () => undefined);
    call.write({
      request: {
        $case: "open",
        open: {
          patterns: options.patterns ?? ["batch.>"],
          group: options.group ?? "",
          start: { position: { $case: "earliest", earliest: {} } },
          maxInFlight: options.maxInFlight ?? 1000,
          manualCredit: false,
          filter: "",
          batchDeliveries: options.batch,
        },
      },
    });
    return { call, deliveries, responses };
  }

  const sequences = (deliveries: readonly Delivery[]) => deliveries.map((d) => Number(d.event?.sequence));
  const oneToN = Array.from({ length: EVENTS }, (_, i) => i + 1);

  it("sends a broadcast subscriber that asked for batches every event once, in order, in fewer responses", async () => {
    const { call, deliveries, responses } = open({ batch: true });
    await waitFor(() => deliveries.length >= EVENTS, 10_000, "every delivery");
    expect(sequences(deliveries)).toEqual(oneToN);
    expect(deliveries.every((d) => d.attempt === 1 && d.deliveryId === `${d.event?.sequence}.1`)).toBe(true);
    expect(responses.some((r) => r.kind === "batch" && r.count > 1)).toBe(true);
    expect(responses.length).toBeLessThan(EVENTS);
    call.cancel();
  });

  it("sends a subscriber that did not ask for batches one delivery per response", async () => {
    const { call, deliveries, responses } = open({ batch: false });
    await waitFor(() => deliveries.length >= EVENTS, 10_000, "every delivery");
    expect(sequences(deliveries)).toEqual(oneToN);
    expect(responses.every((r) => r.kind === "delivery")).toBe(true);
    call.cancel();
  });

  it("lets a group member ack and nack deliveries of one batch one by one", async () => {
    const { call, deliveries } = open({ batch: true, group: "batch-workers" });
    await waitFor(() => deliveries.length >= EVENTS, 10_000, "every first delivery");
    expect(sequences(deliveries.slice(0, EVENTS))).toEqual(oneToN);
    // Nack every tenth event at once, ack the rest.
    const nacked = deliveries.filter((d) => Number(d.event?.sequence) % 10 === 0).map((d) => d.deliveryId);
    const acked = deliveries.filter((d) => Number(d.event?.sequence) % 10 !== 0).map((d) => d.deliveryId);
    call.write({ request: { $case: "nack", nack: { deliveryIds: nacked, delay: { seconds: 0n, nanos: 1_000_000 }, reason: "later" } } });
    call.write({ request: { $case: "ack", ack: { deliveryIds: acked, confirm: false } } });
    await waitFor(() => deliveries.length >= EVENTS + nacked.length, 10_000, "the redeliveries");
    const redelivered = deliveries.slice(EVENTS);
    expect(redelivered.map((d) => d.attempt)).toEqual(nacked.map(() => 2));
    expect(redelivered.map((d) => Number(d.event?.sequence)).sort((a, b) => a - b)).toEqual(oneToN.filter((s) => s % 10 === 0));
    call.write({ request: { $case: "ack", ack: { deliveryIds: redelivered.map((d) => d.deliveryId), confirm: false } } });
    await waitFor(async () => (await t.client.getGroup("batch-workers")).acked === BigInt(EVENTS), 10_000, "every event acked");
    const info = await t.client.getGroup("batch-workers");
    expect(info.backlog).toBe(0n);
    expect(info.inFlight).toBe(0n);
    expect(info.delivered).toBe(BigInt(EVENTS + nacked.length));
    call.cancel();
  });

  it("keeps each batch response within the size bound, splitting where the next delivery would not fit", async () => {
    // Twelve events of 200 KiB, then one of 1,000 KiB (near the 1 MiB data
    // limit), then twelve more.
    const big = (n: number, size: number) => ({ type: "large.item.added", data: Buffer.alloc(size, 97 + n), dataContentType: "application/octet-stream" });
    await t.client.publish(Array.from({ length: 12 }, (_, i) => big(i, 200 * 1024)));
    await t.client.publish([big(20, 1000 * 1024)]);
    await t.client.publish(Array.from({ length: 12 }, (_, i) => big(i, 200 * 1024)));
    const { call, deliveries, responses } = open({ batch: true, patterns: ["large.>"] });
    await waitFor(() => deliveries.length >= 25, 10_000, "every large delivery");
    expect(deliveries).toHaveLength(25);
    expect(sequences(deliveries)).toEqual(Array.from({ length: 25 }, (_, i) => EVENTS + 1 + i));
    expect(deliveries.map((d) => d.event?.data.byteLength)).toEqual([...Array(12).fill(200 * 1024), 1000 * 1024, ...Array(12).fill(200 * 1024)]);
    // Bound + the response's own tag and length.
    for (const response of responses) expect(response.bytes).toBeLessThanOrEqual(MAX_BATCH_BYTES + 8);
    expect(responses.some((r) => r.count > 1)).toBe(true);
    // At most five 200 KiB deliveries fit in 1 MiB: 25 deliveries need at least 7 responses.
    expect(responses.length).toBeGreaterThanOrEqual(7);
    call.cancel();
  });
});
