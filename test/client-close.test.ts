import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, createClient, createRegistryClient } from "@protobus/sdk";
import { startTestServer, type TestServer } from "./support/test-server.js";

describe("calls after close()", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
  });
  afterAll(() => t.close());

  it("publish, query and subscribe on a closed client fail with ProtobusError CANCELLED", async () => {
    const client = createClient({ address: t.address, source: "test/close" });
    await client.publish({ type: "agent.task.created", data: { taskId: "t-1" } });
    await client.close();
    for (const call of [
      () => client.publish({ type: "agent.task.created", data: { taskId: "t-2" } }),
      () => client.publish([{ type: "agent.task.created" }, { type: "agent.task.started" }]),
      () => client.query({ patterns: ["agent.>"] }),
      () => client.info(),
    ]) {
      const error: unknown = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ProtobusError);
      expect((error as ProtobusError).code).toBe(Code.CANCELLED);
      expect((error as ProtobusError).message).toMatch(/client is closed/);
    }
    let thrown: unknown;
    try {
      client.subscribe("agent.>");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProtobusError);
    expect((thrown as ProtobusError).code).toBe(Code.CANCELLED);
    // Nothing of the refused publishes reached the server.
    const page = await t.client.query({ patterns: ["agent.>"] });
    expect(page.events.map((e) => e.type)).toEqual(["agent.task.created"]);
  });

  it("close() resolves once the publishes already made are stored, and again returns the same promise", async () => {
    const client = createClient({ address: t.address, source: "test/close-drain" });
    let settled = 0;
    const publishes = Array.from({ length: 200 }, (_, i) =>
      client.publish({ type: "agent.drain.checked", data: { i } }).finally(() => (settled += 1)),
    );
    const closing = client.close();
    expect(client.close()).toBe(closing);
    await closing;
    expect(settled).toBe(200);
    const receipts = await Promise.all(publishes);
    expect(new Set(receipts.map((r) => r.id)).size).toBe(200);
    const page = await t.client.query({ patterns: ["agent.drain.>"], limit: 500 });
    expect(page.events.length).toBe(200);
  });

  it("a closed registry client fails with ProtobusError CANCELLED", async () => {
    const registry = createRegistryClient({ address: t.address });
    await registry.list();
    registry.close();
    const error: unknown = await registry.list().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProtobusError);
    expect((error as ProtobusError).code).toBe(Code.CANCELLED);
  });
});
