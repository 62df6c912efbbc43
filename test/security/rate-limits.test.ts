/**
 * Rate limits and quotas on a real server: a publisher over its rate gets
 * RESOURCE_EXHAUSTED with RetryInfo and QuotaFailure, and one that waits as
 * told publishes at the configured rate (within 20%) while a second
 * principal's traffic is not touched; refusals are counted per principal
 * in /metrics; open subscriptions and groups are capped and freed; without
 * authentication the limits are per connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { Code, createClient, type ProtobusError } from "@protobus/sdk";
import { msFromDuration } from "@protobus/sdk/internal";
import { EventBusClient } from "@protobus/sdk/proto";
import { createToken, startServer, type ProtobusServer } from "@protobus/server";
import { freePort } from "../support/free-port.js";
import { rawEvent, rawSubscribe, rawUnary, type RawClient } from "../support/raw-calls.js";
import { tempDir } from "../support/test-server.js";

const RATE = 200;
const POLICY = `
grants:
  - principals: ["*"]
    publish: [load.>]
    subscribe: [load.>]
    groups:
      "*": [join]
  - principals: [ops]
    admin: [view]
limits:
  principals:
    fast: { events-per-second: ${RATE}, burst: 20 }
    few: { subscriptions: 2, groups: 1 }
    patient: { events-per-second: 2, burst: 2 }
`;

function retryDelayMs(error: ProtobusError | undefined): number | undefined {
  const retry = error?.details.find((d) => d.type === "RetryInfo");
  return retry?.type === "RetryInfo" ? msFromDuration(retry.value.retryDelay) : undefined;
}

/**
 * Publishes batches of `batch` as `token` for `ms` from `loops` concurrent
 * loops (so that the client's own latency on a busy machine does not set the
 * rate), each waiting as RetryInfo says; returns accepted events and refusals.
 */
async function publishFor(bus: RawClient, token: string, ms: number, batch: number, pauseMs = 0, loops = 1): Promise<{ accepted: number; refused: number; elapsedMs: number; last?: ProtobusError }> {
  const start = performance.now();
  let accepted = 0;
  let refused = 0;
  let last: ProtobusError | undefined;
  const events = Array.from({ length: batch }, () => rawEvent("load.item.sent", "loadgen"));
  const loop = async (): Promise<void> => {
    while (performance.now() - start < ms) {
      const outcome = await rawUnary(bus, "publish", { events }, token);
      if (outcome.code === 0) accepted += batch;
      else if (outcome.code === Code.RESOURCE_EXHAUSTED) {
        refused += 1;
        last = outcome.error;
        await new Promise((r) => setTimeout(r, retryDelayMs(outcome.error) ?? 100));
      } else throw outcome.error;
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  return { accepted, refused, elapsedMs: performance.now() - start, ...(last !== undefined ? { last } : {}) };
}

describe("rate limits per principal", () => {
  const dir = tempDir();
  const tokens: Record<string, string> = {};
  let server: ProtobusServer;
  let bus: RawClient;

  beforeAll(async () => {
    const tokenFile = join(dir.path, "tokens.yaml");
    for (const p of ["fast", "calm", "few", "ops", "patient"]) tokens[p] = createToken(tokenFile, { principal: p }).token;
    writeFileSync(join(dir.path, "policy.yaml"), POLICY);
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      store: "memory",
      logLevel: "silent",
      tokenFile,
      policy: join(dir.path, "policy.yaml"),
      metricsPort: await freePort(),
      shutdownGraceMs: 1000,
    });
    bus = new EventBusClient(server.address, credentials.createInsecure()) as unknown as RawClient;
  });

  afterAll(async () => {
    bus.close();
    await server.shutdown();
    dir.dispose();
  });

  it("holds a publisher to its rate with RetryInfo and QuotaFailure, and leaves another principal alone", async () => {
    const [fast, calm] = await Promise.all([publishFor(bus, tokens.fast ?? "", 3_000, 10, 0, 4), publishFor(bus, tokens.calm ?? "", 3_000, 5, 20)]);
    const rate = (fast.accepted - 20) / (fast.elapsedMs / 1000);
    expect(rate).toBeGreaterThan(RATE * 0.8);
    expect(rate).toBeLessThan(RATE * 1.2);
    expect(fast.refused).toBeGreaterThan(0);
    expect(calm.refused).toBe(0);
    expect(calm.accepted).toBeGreaterThan(100);
    const quota = fast.last?.details.find((d) => d.type === "QuotaFailure");
    expect(quota?.type === "QuotaFailure" && quota.value.violations[0]).toMatchObject({ subject: "principal:fast", quotaId: "limit-events-per-second", quotaValue: BigInt(RATE) });
    expect(retryDelayMs(fast.last)).toBeGreaterThan(0);
    expect(retryDelayMs(fast.last)).toBeLessThanOrEqual(1000);

    const scrape = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`, { headers: { authorization: `Bearer ${tokens.ops}` } });
    const text = await scrape.text();
    const line = text.split("\n").find((l) => l.startsWith('protobus_throttled_requests_total{principal="fast",limit="events-per-second"}'));
    expect(Number(line?.split(" ").at(-1))).toBe(fast.refused);
    expect(text).not.toContain('principal="calm"');
  });

  it("the SDK waits as RetryInfo says before it retries", async () => {
    const throttled = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`, { headers: { authorization: `Bearer ${tokens.ops}` } })).text();
      const line = text.split("\n").find((l) => l.startsWith('protobus_throttled_requests_total{principal="patient",limit="events-per-second"}'));
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    const client = createClient({ address: server.address, token: tokens.patient ?? "", source: "loadgen" });
    try {
      // The burst (2) goes at once; the third event is 500 ms away at 2 a second.
      await client.publish({ type: "load.item.sent", data: { i: 1 } });
      await client.publish({ type: "load.item.sent", data: { i: 2 } });
      const start = performance.now();
      await client.publish({ type: "load.item.sent", data: { i: 3 } });
      expect(performance.now() - start).toBeGreaterThan(400);
    } finally {
      await client.close();
    }
    // Retrying on its own backoff (50 ms, doubling) would have been refused three or four times.
    const refusals = await throttled();
    expect(refusals).toBeGreaterThanOrEqual(1);
    expect(refusals).toBeLessThanOrEqual(2);
  });

  it("caps open subscriptions and groups, and frees them when they close", async () => {
    const first = rawSubscribe(bus, { patterns: ["load.>"], group: "g1" }, tokens.few);
    await first.opened;
    const otherGroup = rawSubscribe(bus, { patterns: ["load.>"], group: "g2" }, tokens.few);
    const refusedGroup = await otherGroup.ended;
    expect(refusedGroup.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refusedGroup.details).toContain("consumer groups; leave one first (limit limit-groups=1)");
    const second = rawSubscribe(bus, { patterns: ["load.>"] }, tokens.few);
    await second.opened;
    const third = rawSubscribe(bus, { patterns: ["load.>"] }, tokens.few);
    expect((await third.ended).details).toContain("open subscriptions; close one first (limit limit-subscriptions=2)");
    second.cancel();
    await second.ended;
    // The slot comes back once the server has seen the stream end.
    let again = rawSubscribe(bus, { patterns: ["load.>"] }, tokens.few);
    for (let i = 0; i < 20 && (await Promise.race([again.opened.then(() => true), again.ended.then(() => false)])) === false; i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = rawSubscribe(bus, { patterns: ["load.>"] }, tokens.few);
    }
    await again.opened;
    again.cancel();
    first.cancel();
  });
});

describe("rate limits per connection without authentication", () => {
  it("limits each connection on its own", async () => {
    const dir = tempDir();
    const server = await startServer({ host: "127.0.0.1", port: 0, store: "memory", logLevel: "silent", limitEventsPerSecond: 50, limitBurst: 10, shutdownGraceMs: 1000 });
    // Distinct channel options: two connections, not one shared.
    const a = new EventBusClient(server.address, credentials.createInsecure(), { "grpc.primary_user_agent": "a" }) as unknown as RawClient;
    const b = new EventBusClient(server.address, credentials.createInsecure(), { "grpc.primary_user_agent": "b" }) as unknown as RawClient;
    try {
      const events = Array.from({ length: 10 }, () => rawEvent("load.item.sent", "loadgen"));
      expect((await rawUnary(a, "publish", { events }, undefined)).code).toBe(0);
      const over = await rawUnary(a, "publish", { events }, undefined);
      expect(over.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(over.details).toMatch(/^connection:127\.0\.0\.1:\d+ publishes more than 50 events per second/);
      expect((await rawUnary(b, "publish", { events }, undefined)).code).toBe(0);
    } finally {
      a.close();
      b.close();
      await server.shutdown();
      dir.dispose();
    }
  });
});
