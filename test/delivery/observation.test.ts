/**
 * One observation pipeline: each delivery state change reaches the per-type
 * counters (GetDeliveryStats) and the Prometheus metrics exactly once, and
 * a dead letter is counted once however many members of its group are
 * connected to the server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, waitFor, type TestServer } from "../support/test-server.js";
import { freePort } from "../support/free-port.js";

function sample(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("the observation pipeline", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ store: "memory", metricsPort: await freePort() });
  });
  afterAll(() => t.close());
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`)).text();

  it("counts deliveries, nacks and dead letters once each, with two members of the group connected", async () => {
    const members = [0, 1].map(() =>
      t.client.subscribe(
        "observe.job.*",
        async () => {
          throw new Error("always fails");
        },
        { group: "observers", maxDeliveries: 2, from: "earliest" },
      ),
    );
    await Promise.all(members.map((m) => m.opened()));
    await t.client.publish([{ type: "observe.job.failed", data: { n: 1 } }, { type: "observe.job.failed", data: { n: 2 } }]);
    await waitFor(async () => (await t.client.getGroup("observers")).deadLetters === 2n, 20_000, "two dead letters");
    for (const m of members) m.close();
    const stats = (await t.client.deliveryStats()).types.find((s) => s.type === "observe.job.failed");
    expect(stats).toMatchObject({ published: 2n, delivered: 4n, nacked: 4n, acked: 0n, deadLettered: 2n });
    const text = await scrape();
    const labels = 'type="observe.job.failed",group="observers"';
    expect(sample(text, "protobus_deliveries_total", labels)).toBe(4);
    expect(sample(text, "protobus_nacks_total", labels)).toBe(4);
    expect(sample(text, "protobus_dead_letters_total", labels)).toBe(2);
  });

  it("counts broadcast deliveries and acks once, and expired events as expired", async () => {
    await t.client.publish([
      { type: "observe.note.kept", data: {} },
      { type: "observe.note.stale", data: {}, expireTime: new Date(Date.now() + 50) },
    ]);
    await new Promise((r) => setTimeout(r, 100));
    const received: string[] = [];
    const sub = t.client.subscribe("observe.note.*", async (event) => void received.push(event.type), { from: "earliest" });
    await waitFor(async () => {
      const kept = (await t.client.deliveryStats()).types.find((s) => s.type === "observe.note.kept");
      return kept?.acked === 1n;
    }, 10_000, "the ack of observe.note.kept");
    sub.close();
    expect(received).toEqual(["observe.note.kept"]);
    const types = (await t.client.deliveryStats()).types;
    expect(types.find((s) => s.type === "observe.note.kept")).toMatchObject({ delivered: 1n, acked: 1n, expired: 0n });
    expect(types.find((s) => s.type === "observe.note.stale")).toMatchObject({ delivered: 0n, expired: 1n });
    const text = await scrape();
    expect(sample(text, "protobus_deliveries_total", 'type="observe.note.kept",group=""')).toBe(1);
    expect(sample(text, "protobus_acks_total", 'type="observe.note.kept",group=""')).toBe(1);
  });
});
