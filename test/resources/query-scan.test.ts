/**
 * Issue 14, row 12: a QueryEvents wildcard that matches nothing scanned the
 * whole history on the server's thread in one call (0.8 s per 200k events,
 * growing), and every other client waited. Now one call looks at no more
 * than `--query-scan-limit` stored events and answers with what it found
 * and a page token to go on from; other clients are answered within 100 ms
 * throughout. Scaled down: 100k events, a limit of 5,000 (the default is
 * 20,000).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient } from "@protobus/sdk";
import { expectNoStall, startHardeningServer, STALL_RETRY, type HardeningServer } from "../hardening/support.js";
import { plainEventBus, plainUnary } from "../support/plain-client.js";

const EVENTS = 100_000;

describe("QueryEvents over a long history", () => {
  let server: HardeningServer;
  let client: ProtobusClient;
  beforeAll(async () => {
    server = await startHardeningServer(["--query-scan-limit", "5000"]);
    client = createClient({ address: server.address, source: "scan" });
    for (let i = 0; i < EVENTS; i += 2000) {
      await client.publish(Array.from({ length: 2000 }, (_, j) => ({ type: `scan.item${(i + j) % 10}.added`, data: { n: i + j } })));
    }
    await client.publish({ type: "scan.last.added", source: "the-end" });
  }, 60_000);
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it("answers one bounded page with a token, however little matches", async () => {
    const plain = plainEventBus(server.address);
    try {
      const page = await plainUnary<{ events: unknown[]; next_page_token: string }>(plain, "QueryEvents", { patterns: ["nomatch.*"] });
      expect(page.events).toEqual([]);
      expect(page.next_page_token).not.toBe("");
    } finally {
      plain.close();
    }
  });

  it("keeps other clients answered within 100 ms while wildcard and source queries walk the history", { ...STALL_RETRY, timeout: 60_000 }, async () => {
    let none = 0;
    const bySource: bigint[] = [];
    let matched = 0;
    await expectNoStall(server, async () => {
      for await (const _event of client.queryAll({ patterns: ["nomatch.*"], limit: 1000 })) none += 1;
      for await (const event of client.queryAll({ source: "the-end", limit: 1000 })) bySource.push(event.sequence);
      for await (const _event of client.queryAll({ patterns: ["scan.item3.*"], limit: 100 })) matched += 1;
    });
    expect(none).toBe(0);
    expect(bySource).toEqual([BigInt(EVENTS + 1)]);
    expect(matched).toBe(EVENTS / 10);
  });
});
