/**
 * What an append costs a broadcast subscription that cannot take anything:
 * nothing. One without credit (manual credit) or with a full window is not
 * woken by appends; the grant or ack that makes room wakes it, and it then
 * delivers from where it was. Real memory store, real appends.
 */
import { describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { compilePatterns } from "@protobus/sdk/internal";
import { createMemoryBackend } from "@protobus/server";
import type { StorageBackend } from "../server/src/storage/backend.js";
import type { DeliverySink } from "../server/src/bus/subscription.js";
import { BroadcastSubscription } from "../server/src/bus/broadcast-subscription.js";

/** Counts how often the subscription looks for deliveries to send. */
class CountingSubscription extends BroadcastSubscription {
  wakes = 0;
  protected override schedule(): void {
    this.wakes += 1;
    super.schedule();
  }
}

/** A sink that keeps the deliveries written to it, each a `SubscribeResponse{delivery}`. */
function collectingSink(): DeliverySink & { readonly deliveries: Uint8Array[] } {
  const deliveries: Uint8Array[] = [];
  return {
    deliveries,
    write: () => true,
    writeDeliveries: (encoded) => {
      deliveries.push(...encoded);
      return true;
    },
    writeUniqueDeliveries: () => true,
    waitForDrain: () => Promise.resolve(),
    fail: (error) => {
      throw error;
    },
  };
}

async function appendBatches(store: StorageBackend, batches: number, from: number): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const events = Array.from({ length: 10 }, (_, i) => Event.fromPartial({ id: `e-${from + b * 10 + i}`, type: "wake.item.added", source: "test", data: Buffer.from("x") }));
    await store.append(events, { dedupeWindowMs: 0 });
  }
}

/** Lets the subscription's pump (asynchronous reads) finish. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

function open(store: StorageBackend, sink: DeliverySink, window: { maxInFlight: number; manualCredit: boolean }): CountingSubscription {
  return new CountingSubscription(store, sink, { id: "s1", heartbeatMs: 0, matcher: compilePatterns(["wake.>"]), afterSequence: 0n, headSequence: 0n, ...window });
}

describe("broadcast subscription wake-ups", () => {
  it("is not woken by appends without credit; a grant wakes it and it delivers from its place", async () => {
    const store = createMemoryBackend({});
    const sink = collectingSink();
    const subscription = open(store, sink, { maxInFlight: 1000, manualCredit: true });
    subscription.start();
    const afterStart = subscription.wakes;
    await appendBatches(store, 50, 0);
    await settle();
    expect(subscription.wakes).toBe(afterStart);
    expect(sink.deliveries).toHaveLength(0);

    subscription.grant(25);
    await settle();
    expect(subscription.wakes).toBe(afterStart + 1);
    expect(sink.deliveries).toHaveLength(25);
    // The credit is spent: appends do not wake it again, nothing more is sent.
    await appendBatches(store, 20, 500);
    await settle();
    expect(subscription.wakes).toBe(afterStart + 1);
    expect(sink.deliveries).toHaveLength(25);
    subscription.close();
    await store.close();
  });

  it("is not woken by appends while its window is full; an ack wakes it", async () => {
    const store = createMemoryBackend({});
    const sink = collectingSink();
    const subscription = open(store, sink, { maxInFlight: 5, manualCredit: false });
    subscription.start();
    await appendBatches(store, 1, 0);
    await settle();
    expect(sink.deliveries).toHaveLength(5);
    const full = subscription.wakes;
    await appendBatches(store, 30, 10);
    await settle();
    expect(subscription.wakes).toBe(full);

    subscription.ack(["1.1", "2.1"], false);
    await settle();
    expect(subscription.wakes).toBe(full + 1);
    expect(sink.deliveries).toHaveLength(7);
    subscription.close();
    await store.close();
  });

  it("with room, is woken by each append and delivers it", async () => {
    const store = createMemoryBackend({});
    const sink = collectingSink();
    const subscription = open(store, sink, { maxInFlight: 1000, manualCredit: false });
    subscription.start();
    const afterStart = subscription.wakes;
    for (let b = 0; b < 3; b++) {
      await appendBatches(store, 1, b * 10);
      await settle();
      expect(subscription.wakes).toBe(afterStart + b + 1);
      expect(sink.deliveries).toHaveLength((b + 1) * 10);
    }
    subscription.close();
    await store.close();
  });
});
