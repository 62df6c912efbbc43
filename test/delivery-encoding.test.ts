/**
 * A consumer group's deliveries are encoded straight from the stored
 * envelopes into batch responses (server/src/bus/delivery-writer.ts): the
 * bytes are exactly what the generated codec writes for the same batch, and
 * batches split at the size bound as batches of single encodings do.
 */
import { describe, expect, it } from "vitest";
import { Event, SubscribeResponse } from "@protobus/sdk/proto";
import { StoredEvent } from "@protobus/server";
import type { UniqueDelivery } from "../server/src/bus/delivery-encoding.js";
import { encodeUniqueDelivery } from "../server/src/bus/delivery-encoding.js";
import { MAX_BATCH_BYTES, writeDeliveries, writeUniqueDeliveries } from "../server/src/bus/delivery-writer.js";

function delivery(n: number, dataBytes: number, deliveryId = `${n}.1`, attempt = 1): UniqueDelivery {
  const event = Event.fromPartial({ id: `e-${n}`, type: "agent.task.created", source: "test/encoding", sequence: BigInt(n), data: Buffer.alloc(dataBytes, n % 251) });
  return { stored: StoredEvent.fromEvent(event), deliveryId, attempt };
}

/** Every message `writeUniqueDeliveries` writes. */
function written(deliveries: readonly UniqueDelivery[], batching: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  writeUniqueDeliveries((message) => out.push(message) > 0, deliveries, batching);
  return out;
}

describe("writeUniqueDeliveries", () => {
  it("writes a batch byte for byte as the generated codec encodes it", () => {
    // Ids of one and several bytes per character, attempts 0, 1 and past one byte.
    const deliveries = [delivery(1, 10), delivery(2, 0, "2.3", 3), delivery(3, 300, "3.0", 0), delivery(4, 5, "ü-4.1", 1), delivery(5, 200, "5.200", 200)];
    const [batch, ...rest] = written(deliveries, true);
    expect(rest).toEqual([]);
    const expected = SubscribeResponse.encode({
      response: {
        $case: "batch",
        batch: { deliveries: deliveries.map((d) => ({ event: d.stored.event, deliveryId: d.deliveryId, attempt: d.attempt })) },
      },
    }).finish();
    expect(Buffer.from(batch as Uint8Array).equals(Buffer.from(expected))).toBe(true);
  });

  it("writes the same messages as batching single encodings, split at the size bound", () => {
    // 200 KiB events: five fit in one batch response.
    const deliveries = Array.from({ length: 12 }, (_, i) => delivery(i + 1, 200 * 1024));
    const direct = written(deliveries, true);
    const singles: Uint8Array[] = [];
    writeDeliveries((message) => singles.push(message) > 0, deliveries.map((d) => encodeUniqueDelivery(d.stored, d.deliveryId, d.attempt)), true);
    expect(direct.map((m) => Buffer.from(m).toString("hex"))).toEqual(singles.map((m) => Buffer.from(m).toString("hex")));
    expect(direct.length).toBeGreaterThan(2);
    for (const message of direct) expect(message.byteLength).toBeLessThanOrEqual(MAX_BATCH_BYTES + 8);
  });

  it("writes one delivery response each without batching, or for a single delivery", () => {
    const deliveries = [delivery(1, 10), delivery(2, 20)];
    for (const [batching, list] of [
      [false, deliveries],
      [true, deliveries.slice(0, 1)],
    ] as const) {
      const messages = written(list, batching);
      expect(messages.map((m) => SubscribeResponse.decode(m))).toEqual(
        list.map((d) => ({ response: { $case: "delivery", delivery: { event: d.stored.event, deliveryId: d.deliveryId, attempt: d.attempt } } })),
      );
    }
  });

  it("reports a full transport when any write did", () => {
    const deliveries = Array.from({ length: 12 }, (_, i) => delivery(i + 1, 200 * 1024));
    let writes = 0;
    expect(writeUniqueDeliveries(() => ++writes !== 2, deliveries, true)).toBe(false);
    expect(writes).toBeGreaterThan(2);
  });
});
