/**
 * The SDK side of durable delivery: a subscription opens again by itself
 * after the server restarts (a group member rejoins its group, a broadcast
 * subscription resumes after the last event it received, with no gap), and
 * `close()` in the handler form drains: running handlers finish and their
 * acks reach the server before the stream closes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createClient } from "@protobus/sdk";
import { freePort, startTestServer, tempDir, waitFor, type TestServer } from "../support/test-server.js";

describe("subscriptions across a server restart", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("reconnect with backoff and resume the group and the broadcast position", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const port = await freePort();
    let t: TestServer = await startTestServer({ port, dataDir: dir.path });
    cleanups.push(() => t.close());
    const client = createClient({ address: t.address, source: "reconnect" });
    cleanups.push(() => client.close());

    const grouped = new Map<number, number>();
    const member = client.subscribe(
      "resume.>",
      (event) => {
        const n = event.json<{ n: number }>().n;
        grouped.set(n, (grouped.get(n) ?? 0) + 1);
      },
      { group: "resumers", reconnect: { initialDelayMs: 50, maxDelayMs: 500 } },
    );
    const broadcast: number[] = [];
    const tail = client.subscribe(
      "resume.>",
      (event) => {
        broadcast.push(event.json<{ n: number }>().n);
      },
      { reconnect: { initialDelayMs: 50, maxDelayMs: 500 } },
    );
    await Promise.all([member.opened(), tail.opened()]);
    await client.publish(Array.from({ length: 50 }, (_, n) => ({ type: "resume.job.created", data: { n } })));
    await waitFor(() => grouped.size === 50 && broadcast.length === 50, 10_000, "the first 50 events");
    await waitFor(async () => (await client.getGroup("resumers")).acked === 50n, 10_000, "50 acks");

    // A restart: streams end with UNAVAILABLE; the subscriptions open again.
    await t.close();
    t = await startTestServer({ port, dataDir: dir.path });
    const publisher = createClient({ address: t.address, source: "reconnect" });
    cleanups.push(() => publisher.close());
    const members = () => publisher.getGroup("resumers").then((g) => g.members, () => -1);
    await waitFor(async () => (await members()) === 1, 20_000, "the member to rejoin");
    await publisher.publish(Array.from({ length: 50 }, (_, i) => ({ type: "resume.job.created", data: { n: 50 + i } })));
    await waitFor(() => grouped.size === 100 && broadcast.length >= 100, 20_000, "the next 50 events");
    expect([...grouped.values()].every((count) => count === 1)).toBe(true);
    expect(broadcast).toEqual(Array.from({ length: 100 }, (_, n) => n));
    await waitFor(async () => (await publisher.getGroup("resumers")).acked === 100n, 10_000, "100 acks");
    member.close();
    tail.close();
    await Promise.all([member.closed, tail.closed]);
  });

  it("drain on close: running handlers finish and their acks are kept", async () => {
    const t = await startTestServer();
    cleanups.push(() => t.close());
    await t.client.publish(Array.from({ length: 20 }, (_, n) => ({ type: "drain.job.created", data: { n } })));
    let started = 0;
    let finished = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sub = t.client.subscribe(
      "drain.>",
      async () => {
        started += 1;
        await gate;
        finished += 1;
      },
      { group: "drainers", from: "earliest", concurrency: 5, maxInFlight: 20 },
    );
    await waitFor(() => started === 5, 10_000, "5 running handlers");
    sub.close();
    let closed = false;
    void sub.closed.then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 100));
    // Still draining: the stream stays open while handlers run, and no new one starts.
    expect(closed).toBe(false);
    release();
    await sub.closed;
    expect(started).toBe(5);
    expect(finished).toBe(5);
    await waitFor(async () => (await t.client.getGroup("drainers")).acked === 5n, 10_000, "the 5 acks");
    await waitFor(async () => (await t.client.getGroup("drainers")).members === 0, 10_000, "the member to leave");
    expect((await t.client.getGroup("drainers")).inFlight).toBe(0n);
  });
});
