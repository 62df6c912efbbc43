import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, eventJson, type ReceivedEvent } from "@protobus/sdk";
import { startTestServer, type TestServer } from "./support/test-server.js";

describe("publish → subscribe through the SDK", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("delivers a published event with every envelope field intact", async () => {
    const sub = t.client.subscribe("agent.task.*");
    await sub.opened();
    const expireTime = new Date(Date.now() + 60_000);
    const result = await t.client.publish({
      type: "agent.task.created",
      source: "agent/planner",
      data: { taskId: "t-1", title: "write the report" },
      subject: "worker-7",
      correlationId: "flow-1",
      causationId: "cause-0",
      priority: 2,
      tags: ["urgent", "report"],
      expireTime,
      orderingKey: "t-1",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      attributes: { tenant: "acme" },
    });
    expect(result.duplicate).toBe(false);
    expect(result.sequence).toBeGreaterThan(0n);

    const received: ReceivedEvent[] = [];
    for await (const event of sub) {
      received.push(event);
      break;
    }
    const event = received[0];
    expect(event).toBeDefined();
    if (event === undefined) return;
    expect(event.id).toBe(result.id);
    expect(event.sequence).toBe(result.sequence);
    expect(event.type).toBe("agent.task.created");
    expect(event.source).toBe("agent/planner");
    expect(event.specVersion).toBe("1.0");
    expect(event.dataContentType).toBe("application/json");
    expect(eventJson(event)).toEqual({ taskId: "t-1", title: "write the report" });
    expect(event.subject).toBe("worker-7");
    expect(event.correlationId).toBe("flow-1");
    expect(event.causationId).toBe("cause-0");
    expect(event.priority).toBe(2);
    expect(event.tags).toEqual(["urgent", "report"]);
    expect(event.expireTime?.getTime()).toBe(expireTime.getTime());
    expect(event.orderingKey).toBe("t-1");
    expect(event.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(event.attributes).toEqual({ tenant: "acme" });
    expect(event.publishTime).toBeInstanceOf(Date);
    expect(event.attempt).toBe(1);
    // UUIDv7: version nibble 7.
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("defaults priority to 4 and keeps a given id", async () => {
    const result = await t.client.publish({ type: "agent.task.started", id: "my-id-1" });
    expect(result.id).toBe("my-id-1");
    const stored = await t.client.getEvent("my-id-1");
    expect(stored.priority).toBe(4);
    expect(stored.sequence).toBe(result.sequence);
  });

  it("answers NOT_FOUND with the resource named for an unknown id", async () => {
    const error = await t.client.getEvent("no-such-id").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtobusError);
    expect((error as ProtobusError).code).toBe(Code.NOT_FOUND);
    expect((error as ProtobusError).details[0]).toMatchObject({ type: "ResourceInfo", value: { resourceName: "no-such-id" } });
  });

  it("runs a handler per event and acks it when the handler resolves", async () => {
    const seen: string[] = [];
    const sub = t.client.subscribe(
      "agent.tool.>",
      async (event) => {
        seen.push(event.type);
      },
      { maxInFlight: 2 },
    );
    await sub.opened();
    await t.client.publish([
      { type: "agent.tool.invoked" },
      { type: "agent.tool.search.completed" },
      { type: "agent.task.created" },
      { type: "agent.tool.failed" },
    ]);
    await expect.poll(() => seen.length).toBe(3);
    expect(seen).toEqual(["agent.tool.invoked", "agent.tool.search.completed", "agent.tool.failed"]);
    sub.close();
    await sub.closed;
  });

  it("reports bus info", async () => {
    const info = await t.client.info();
    expect(info.store).toBe("sqlite");
    expect(info.durable).toBe(true);
    expect(info.headSequence).toBeGreaterThan(0n);
    expect(info.maxPayloadBytes).toBe(1024 * 1024);
  });
});
