/**
 * Issue 14, row 9: subscribers that read history and never ack made the
 * server hold every unacked delivery, bounded only by a count (up to 10,000
 * deliveries each, whatever their size): one broadcast subscriber reading
 * 250 MB of history took the server from 90 to 880 MB; four subscribers
 * 3.1 GB; four stalled groups 2.1 GB. Now each subscription's unacked
 * deliveries are bounded in bytes (`--max-unacked-bytes`): over it, a
 * subscriber gets nothing more until it acks; and every reader draws from
 * one server-wide `--memory-budget`, waiting when it is spent. Scaled down:
 * 1,500 events of 32 KiB (48 MiB of history), four broadcast subscribers
 * and four single-member groups that never ack, a 1 MiB bound each (the
 * count bound would let them hold the whole history, 384 MiB together).
 */
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient } from "@protobus/sdk";
import type { OpenSubscription } from "@protobus/sdk/proto";
import { freePort } from "../support/free-port.js";
import { mib, rssBytes } from "../support/process-memory.js";
import { openHeldStream, type HeldStream } from "../support/raw-stream.js";
import { spawnServer, tempDir, waitFor, type ServerProcess } from "../support/test-server.js";

const EVENTS = 1_500;
const EVENT_BYTES = 32 * 1024;
const MAX_UNACKED = 2 ** 20;
/** Deliveries a subscriber holds at most: its bound, plus the one that crosses it. */
const HELD_MAX = Math.ceil(MAX_UNACKED / EVENT_BYTES) + 1;
/** Deliveries a subscriber holds at least once it reached its bound (an envelope is a little larger than its payload). */
const HELD_MIN = Math.floor(MAX_UNACKED / (EVENT_BYTES + 1024));

/** A gauge of the server's `/metrics`. */
async function gauge(metricsPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const match = new RegExp(`^${name.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text);
  if (match === null) throw new Error(`no ${name} on /metrics`);
  return Number(match[1]);
}

/** Publishes `count` events with `bytes` of payload each. */
async function publishHistory(client: ProtobusClient, count: number, bytes: number): Promise<void> {
  const padding = "u".repeat(bytes - 32);
  for (let sent = 0; sent < count; sent += 50) {
    await client.publish(Array.from({ length: Math.min(50, count - sent) }, (_, i) => ({ type: "held.item.added", data: { n: sent + i, padding } })));
  }
}

const FROM_EARLIEST: Partial<OpenSubscription> = { patterns: ["held.>"], start: { position: { $case: "earliest", earliest: {} } }, maxInFlight: 10_000 };

describe("unacked deliveries", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(flags: readonly string[]): Promise<{ server: ServerProcess; metricsPort: number; client: ProtobusClient }> {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const metricsPort = await freePort();
    const server = await spawnServer(["--store", "sqlite", "--data-dir", dir.path, "--metrics-port", String(metricsPort), ...flags]);
    cleanups.push(() => server.stop("SIGKILL"));
    const client = createClient({ address: server.address, source: "unacked" });
    cleanups.push(() => client.close());
    return { server, metricsPort, client };
  }

  function hold(address: string, open: Partial<OpenSubscription>, autoAck = false): HeldStream {
    const stream = openHeldStream(address, open, autoAck);
    cleanups.push(() => stream.close());
    return stream;
  }

  it("bounds what subscribers that never ack hold, in bytes, while a bystander gets every event; an ack lets more through", { timeout: 120_000 }, async () => {
    const { server, metricsPort, client } = await start(["--max-unacked-bytes", String(MAX_UNACKED)]);
    await publishHistory(client, EVENTS, EVENT_BYTES);
    // The store's history reader (a thread of its own) is started before the baseline is taken.
    const warmup = hold(server.address, FROM_EARLIEST, true);
    await waitFor(() => warmup.received.length > 0, 30_000, "a first read of the history");
    warmup.close();
    const pid = server.process.pid as number;
    const before = rssBytes(pid);

    const broadcasts = Array.from({ length: 4 }, () => hold(server.address, FROM_EARLIEST));
    const members = Array.from({ length: 4 }, (_, i) => hold(server.address, { ...FROM_EARLIEST, group: `stalled-${i}`, groupSettings: { ackDeadline: { seconds: 600n, nanos: 0 }, maxDeliveries: 0 } }));
    const stalled = [...broadcasts, ...members];
    await Promise.all(stalled.map((s) => s.opened));
    await waitFor(() => stalled.every((s) => s.received.length >= HELD_MIN), 30_000, "every stalled subscriber to reach its bound");
    // What the server holds for them now: the count bound would have let them take the whole history (384 MiB).
    const held = rssBytes(pid);

    // A bystander that acks reads the whole history meanwhile.
    const bystander = hold(server.address, FROM_EARLIEST, true);
    await bystander.opened;
    await waitFor(() => bystander.received.length === EVENTS, 60_000, "the bystander to receive the whole history");

    const counts = stalled.map((s) => s.received.length);
    const unacked = await gauge(metricsPort, 'protobus_memory_held_bytes{use="unacked"}');
    const after = rssBytes(pid);
    const report =
      `stalled subscribers hold ${counts.join(", ")} deliveries; unacked ${mib(unacked)}; ` +
      `RSS ${mib(before)} before, ${mib(held)} with the stalled subscribers at their bound, ${mib(after)} after the bystander read the history`;
    console.log(`unacked bytes: ${report}`);
    for (const count of counts) expect(count, report).toBeLessThanOrEqual(HELD_MAX);
    // Eight subscribers at ~1 MiB each (the bystander's few in flight aside); the count bound allowed 384 MiB.
    expect(unacked, report).toBeLessThan(8 * (MAX_UNACKED + EVENT_BYTES) + 64 * EVENT_BYTES);
    expect(held - before, report).toBeLessThan(250 * 2 ** 20);

    // Once a subscriber acks, it gets more: a broadcast subscriber and a group member alike.
    for (const stream of [broadcasts[0] as HeldStream, members[0] as HeldStream]) {
      const held = stream.received.length;
      stream.ackAll();
      await waitFor(() => stream.received.length > held, 20_000, "more deliveries after the ack");
      expect(stream.received.length).toBeLessThanOrEqual(2 * HELD_MAX);
    }
    // The others still hold what they held.
    expect(broadcasts[1]?.received.length).toBe(counts[1]);
  });

  it("makes readers wait when the server-wide --memory-budget is spent, and go on when bytes are released", { timeout: 120_000 }, async () => {
    const budget = 4 * MAX_UNACKED;
    const { server, metricsPort, client } = await start(["--max-unacked-bytes", String(MAX_UNACKED), "--memory-budget", String(budget)]);
    expect(await gauge(metricsPort, "protobus_memory_budget_bytes")).toBe(budget);
    await publishHistory(client, 500, EVENT_BYTES);

    // Six subscribers that never ack, 1 MiB each, against a 4 MiB budget.
    const readers = Array.from({ length: 6 }, () => hold(server.address, FROM_EARLIEST));
    await Promise.all(readers.map((r) => r.opened));
    await waitFor(
      async () => (await gauge(metricsPort, 'protobus_memory_held_bytes{use="unacked"}')) > budget - 2 * EVENT_BYTES,
      30_000,
      "the budget to be spent",
    );
    const total = (): number => readers.reduce((sum, r) => sum + r.received.length, 0);
    const unacked = await gauge(metricsPort, 'protobus_memory_held_bytes{use="unacked"}');
    const report = `${readers.map((r) => r.received.length).join(", ")} deliveries held; unacked ${mib(unacked)} of a ${mib(budget)} budget`;
    console.log(`memory budget: ${report}`);
    expect(unacked, report).toBeLessThanOrEqual(budget);
    expect(total() * EVENT_BYTES, report).toBeLessThanOrEqual(budget);
    // Some readers got less than their own bound: they wait for the budget, not for an ack.
    expect(readers.some((r) => r.received.length < HELD_MIN), report).toBe(true);

    // Four readers end: the bytes they held go to those waiting, and a bystander that acks reads everything.
    for (const reader of readers.slice(0, 4)) reader.close();
    await waitFor(() => readers.slice(4).every((r) => r.received.length >= HELD_MIN), 30_000, "the waiting readers to get their share");
    const bystander = hold(server.address, FROM_EARLIEST, true);
    await bystander.opened;
    await waitFor(() => bystander.received.length === 500, 60_000, "the bystander to get every event");
    expect(await gauge(metricsPort, 'protobus_memory_held_bytes{use="unacked"}')).toBeLessThanOrEqual(budget);
  });
});
