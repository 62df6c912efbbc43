/**
 * Automatic correlation: events published inside a handler join the handled
 * event's flow (correlation id, causation id = handled event id), through
 * two hops and across concurrent handlers, with no code from the user.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event, ReceivedEvent } from "@protobus/sdk";
import { plainEventBus, plainUnary } from "../support/plain-client.js";
import { startTestServer, waitFor, type TestServer } from "../support/test-server.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("automatic correlation", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
  });
  afterAll(() => t.close());

  const byId = async (id: string): Promise<Event> => t.client.getEvent(id);

  it("starts a new flow outside a handler and carries it through two hops", async () => {
    const hop1 = t.client.subscribe("corr.order.placed", async () => {
      await t.client.publish({ type: "corr.order.paid", data: {} });
    });
    const hop2 = t.client.subscribe("corr.order.paid", async () => {
      await new Promise((r) => setTimeout(r, 5));
      await t.client.publish({ type: "corr.order.shipped", data: {} });
    });
    await Promise.all([hop1.opened(), hop2.opened()]);
    try {
      const placed = await t.client.publish({ type: "corr.order.placed", data: {} });
      const placedEvent = await byId(placed.id);
      // A new flow's id is a UUIDv7, so that the server's correlation index grows at its end.
      expect(placedEvent.correlationId).toMatch(UUID_V7);
      expect(placedEvent.causationId).toBe("");
      let flow: Event[] = [];
      await waitFor(async () => {
        flow = (await t.client.query({ correlationId: placedEvent.correlationId })).events;
        return flow.length === 3;
      });
      const [first, paid, shipped] = flow as [Event, Event, Event];
      expect(first.id).toBe(placed.id);
      expect(paid).toMatchObject({ type: "corr.order.paid", correlationId: placedEvent.correlationId, causationId: placed.id });
      expect(shipped).toMatchObject({ type: "corr.order.shipped", correlationId: placedEvent.correlationId, causationId: paid.id });

      // A second publish outside any handler is a different flow.
      const other = await byId((await t.client.publish({ type: "corr.order.noted", data: {} })).id);
      expect(other.correlationId).toMatch(UUID_V7);
      expect(other.correlationId > placedEvent.correlationId).toBe(true);
      // A caller's own ids are kept.
      const own = await byId((await t.client.publish({ type: "corr.order.noted", correlationId: "mine", causationId: "cause" })).id);
      expect(own).toMatchObject({ correlationId: "mine", causationId: "cause" });
    } finally {
      hop1.close();
      hop2.close();
    }
  });

  it("uses the handled event's id as the correlation id when it had none", async () => {
    const handler = t.client.subscribe("bare.job.created", async () => {
      await t.client.publish({ type: "bare.job.started", data: {} });
    });
    await handler.opened();
    try {
      // A plain gRPC client sets no correlation id.
      const bus = plainEventBus(t.address);
      const response = await plainUnary<{ results: { id: string }[] }>(bus, "Publish", {
        events: [{ source: "plain", type: "bare.job.created", data: Buffer.from("{}") }],
      });
      bus.close();
      const rootId = (response.results[0] as { id: string }).id;
      expect((await byId(rootId)).correlationId).toBe("");
      let started: Event[] = [];
      await waitFor(async () => {
        started = (await t.client.query({ patterns: ["bare.job.started"] })).events;
        return started.length === 1;
      });
      expect(started[0]).toMatchObject({ correlationId: rootId, causationId: rootId });
    } finally {
      handler.close();
    }
  });

  it("does not leak flows between concurrent handlers", async () => {
    const count = 24;
    const inFlight = new Set<string>();
    let maxConcurrent = 0;
    const worker = t.client.subscribe(
      "conc.job.created",
      async (event: ReceivedEvent) => {
        inFlight.add(event.id);
        maxConcurrent = Math.max(maxConcurrent, inFlight.size);
        // Interleave: each handler yields several times, in a different order.
        const index = (event.json<{ i: number }>()).i;
        for (let step = 0; step < 3; step++) await new Promise((r) => setTimeout(r, ((index * 7 + step * 5) % 13) + 1));
        await t.client.publish({ type: "conc.job.done", data: { i: index } });
        inFlight.delete(event.id);
      },
      { concurrency: count, maxInFlight: count },
    );
    await worker.opened();
    try {
      const roots = await t.client.publish(
        Array.from({ length: count }, (_, i) => ({ type: "conc.job.created", data: { i }, correlationId: `conc-${i}` })),
      );
      let done: Event[] = [];
      await waitFor(async () => {
        done = (await t.client.query({ patterns: ["conc.job.done"], limit: 1000 })).events;
        return done.length === count;
      });
      expect(maxConcurrent).toBeGreaterThan(1);
      for (const event of done) {
        const i = JSON.parse(Buffer.from(event.data).toString("utf8")).i as number;
        expect(event.correlationId).toBe(`conc-${i}`);
        expect(event.causationId).toBe(roots[i]?.id);
      }
      // Outside the handlers nothing is inherited.
      const after = await byId((await t.client.publish({ type: "conc.job.audit", data: {} })).id);
      expect(after.causationId).toBe("");
      expect(after.correlationId).not.toMatch(/^conc-/);
    } finally {
      worker.close();
    }
  });
});
