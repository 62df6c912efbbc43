/**
 * Replay then live with no gap and no duplicate: 1,000 events stored, a
 * subscription from `earliest` opened while 1,000 more are being published;
 * exactly 2,000 arrive, in sequence order.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/test-server.js";

describe.each(["sqlite", "memory"] as const)("replay on %s", (store) => {
  let t: TestServer;
  afterEach(() => t.close());

  it("switches from history to live without gap or duplicate", async () => {
    t = await startTestServer({ store });
    const batch = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ type: "replay.item.added", data: { n: from + i } }));
    for (let i = 0; i < 1000; i += 100) await t.client.publish(batch(i, 100));

    const sub = t.client.subscribe("replay.>", { from: "earliest", maxInFlight: 50 });
    await sub.opened();
    // Publish the second 1,000 while the subscriber is still replaying.
    const publishing = (async () => {
      for (let i = 1000; i < 2000; i += 10) await t.client.publish(batch(i, 10));
    })();
    const sequences: bigint[] = [];
    const numbers: number[] = [];
    for await (const event of sub) {
      sequences.push(event.sequence);
      numbers.push(event.json<{ n: number }>().n);
      if (sequences.length === 2000) break;
    }
    await publishing;
    expect(numbers).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBe((sequences[i - 1] as bigint) + 1n);
    // Nothing more arrives: publish a marker and make sure it is the next one.
    const tail = t.client.subscribe("replay.>", { from: { sequence: (sequences.at(-1) as bigint) + 1n } });
    await tail.opened();
    await t.client.publish({ type: "replay.item.marker" });
    for await (const event of tail) {
      expect(event.type).toBe("replay.item.marker");
      break;
    }
  });

  it("starts from a sequence and from a time", async () => {
    t = await startTestServer({ store });
    await t.client.publish([{ type: "replay.a.one" }, { type: "replay.a.two" }]);
    await new Promise((r) => setTimeout(r, 15));
    const middle = new Date();
    await new Promise((r) => setTimeout(r, 15));
    await t.client.publish([{ type: "replay.a.three" }, { type: "replay.a.four" }]);
    const fromSeq = t.client.subscribe("replay.>", { from: { sequence: 2 } });
    const fromTime = t.client.subscribe("replay.>", { from: { time: middle } });
    const take = async (sub: typeof fromSeq, n: number) => {
      const out: string[] = [];
      for await (const e of sub) {
        out.push(e.type);
        if (out.length === n) break;
      }
      return out;
    };
    expect(await take(fromSeq, 3)).toEqual(["replay.a.two", "replay.a.three", "replay.a.four"]);
    expect(await take(fromTime, 2)).toEqual(["replay.a.three", "replay.a.four"]);
  });
});
