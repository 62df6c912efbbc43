/**
 * The flow monitor's memory is bounded by the characters its flows hold,
 * not only by their count: flows opened with correlation ids of the longest
 * a client may send (1,024 characters) are dropped oldest first once they
 * hold MAX_TRACKED_FLOW_CHARS, and finished ones once they hold
 * MAX_FINISHED_FLOW_CHARS, while the newest are still watched.
 */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { toEnvelope } from "@protobus/sdk";
import { EventBus, FlowMonitor, createLogger, createMemoryBackend } from "@protobus/server";
import { MAX_FINISHED_FLOW_CHARS, MAX_TRACKED_FLOW_CHARS } from "../server/src/flow/monitor.js";

describe("the flow monitor's bounds", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("drops the oldest flows once their ids hold its bound of characters, open and finished alike", async () => {
    const store = createMemoryBackend({});
    cleanups.push(() => store.close());
    const bus = new EventBus(store, { maxPayloadBytes: 1024 * 1024, maxBatchSize: 10_000, dedupeWindowMs: 0, version: "test" });
    const monitor = new FlowMonitor(bus, {
      rules: { slowFlowAfterMs: 600_000, startTypes: ["*.created"], terminalTypes: ["*.completed"], rateSpikeSigma: 0, rateWindowMs: 60_000, rateBucketMs: 1_000, rateSpikeMinCount: 10 },
      logger: createLogger({ level: "silent", format: "text" }),
    });
    monitor.start();
    cleanups.push(() => monitor.stop());

    // 24,000 flows of 1,024-character ids: ~25 M characters, past the bound, far below the count's.
    const ids = Array.from({ length: 24_000 }, () => randomBytes(512).toString("hex"));
    const publishAll = async (type: string): Promise<void> => {
      for (let i = 0; i < ids.length; i += 1_000) {
        await bus.publish(ids.slice(i, i + 1_000).map((correlationId) => toEnvelope({ type, correlationId, data: {} }, { source: "test/flow-monitor-bounds" })));
      }
    };
    await publishAll("order.created");
    const open = monitor.held();
    expect(open.flowChars).toBeLessThanOrEqual(MAX_TRACKED_FLOW_CHARS);
    expect(open.flowChars).toBeGreaterThan(MAX_TRACKED_FLOW_CHARS - 2_000);
    // Each flow weighs its id, its first event's id and twice its type (first and last).
    const perFlow = 1_024 + 36 + 2 * "order.created".length;
    expect(open.flows).toBe(Math.floor(MAX_TRACKED_FLOW_CHARS / perFlow));

    // Every flow finishes: the dropped ones too, so that late events do not reopen them.
    await publishAll("order.completed");
    const finished = monitor.held();
    expect(finished.flows).toBe(0);
    expect(finished.flowChars).toBe(0);
    expect(finished.finishedChars).toBeLessThanOrEqual(MAX_FINISHED_FLOW_CHARS);
    expect(finished.finished).toBe(Math.floor(MAX_FINISHED_FLOW_CHARS / 1_024));
  });
});
