import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/test-server.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("ids the server assigns", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("are UUIDv7s, unique and increasing along the sequence, also within one millisecond", async () => {
    const batch = Array.from({ length: 5000 }, () => ({ type: "agent.task.created", data: { n: 1 } }));
    const results = [...(await t.client.publish(batch)), ...(await t.client.publish(batch.slice(0, 10)))];
    for (const result of results) expect(result.id).toMatch(UUID_V7);
    for (let i = 1; i < results.length; i++) expect(results[i]!.id > results[i - 1]!.id).toBe(true);
    expect(new Set(results.map((r) => r.id)).size).toBe(results.length);
  });

  it("carry the publish time in their first 48 bits", async () => {
    const before = Date.now();
    const { id } = await t.client.publish({ type: "agent.task.created" });
    const ms = parseInt(id.replaceAll("-", "").slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1000);
  });
});
