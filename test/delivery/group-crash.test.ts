/**
 * A consumer group survives kill -9: `protobus serve` runs as a child
 * process on a SQLite file; a group member consumes 10,000 events and acks
 * a random part of them, waiting for each ack's confirmation; the server is
 * killed with SIGKILL at a random point; after a restart on the same data
 * directory every event whose ack was confirmed is never delivered again,
 * every event that was not acked is delivered again, and none is lost. An id
 * published again after the restart, within the dedupe window, is a
 * duplicate that names the original sequence and is stored once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient, type ReceivedEvent } from "@protobus/sdk";
import { spawnServer, tempDir, waitFor, type ServerProcess } from "../support/test-server.js";

const TOTAL = 10_000;

describe("a consumer group across kill -9", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("never redelivers a confirmed ack and redelivers everything else", { timeout: 180_000 }, async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const serve = () => spawnServer(["--data-dir", dir.path, "--store", "sqlite"]);
    let server: ServerProcess = await serve();
    cleanups.push(() => server.stop("SIGKILL"));
    let client: ProtobusClient = createClient({ address: server.address, source: "crash" });
    cleanups.push(() => client.close());

    const sequences = new Map<string, bigint>();
    for (let sent = 0; sent < TOTAL; sent += 1000) {
      const results = await client.publish(Array.from({ length: 1000 }, (_, i) => ({ id: `crash-${sent + i}`, type: "crash.job.created" })));
      for (const r of results) sequences.set(r.id, r.sequence);
    }

    // The whole backlog fits the window and the deadline is long, so before
    // the kill nothing is redelivered and unacked events stay in flight.
    const options = { group: "crash-workers", from: "earliest" as const, autoAck: false, maxInFlight: 10_000, ackDeadlineMs: 600_000 };
    const confirmed = new Set<string>();
    const ackSent = new Set<string>();
    const firstRun = new Set<string>();
    const killAfter = 1000 + Math.floor(Math.random() * 4000);
    let killed = false;
    const sub = client.subscribe("crash.>", options);
    const pending: Array<Promise<void>> = [];
    for await (const event of sub) {
      firstRun.add(event.id);
      expect(event.attempt).toBe(1);
      if (Math.random() < 0.6) {
        ackSent.add(event.id);
        pending.push(
          event.ackAndWait().then(
            () => {
              confirmed.add(event.id);
            },
            () => undefined,
          ),
        );
      }
      // On a slow machine every event can arrive before enough acks are
      // confirmed: then wait for them here, as no further event will come.
      if (firstRun.size === TOTAL) await waitFor(() => confirmed.size >= killAfter, 60_000, "acks to be confirmed");
      if (confirmed.size >= killAfter) {
        await server.stop("SIGKILL");
        killed = true;
        break;
      }
    }
    expect(killed).toBe(true);
    sub.close();
    await Promise.all(pending);
    await client.close();
    // The kill is what was asked for: at least that many acks were confirmed.
    expect(confirmed.size).toBeGreaterThanOrEqual(killAfter);

    server = await serve();
    client = createClient({ address: server.address, source: "crash" });
    const again = new Map<string, ReceivedEvent>();
    const redelivered = client.subscribe("crash.>", { ...options, autoAck: true });
    const expected = TOTAL - confirmed.size;
    const collecting = (async () => {
      for await (const event of redelivered) {
        expect(again.has(event.id), `${event.id} delivered twice after the restart`).toBe(false);
        again.set(event.id, event);
      }
    })();
    // Everything never acked comes back; acks sent but not confirmed may or
    // may not have been committed before the kill.
    await waitFor(
      () => [...sequences.keys()].every((id) => ackSent.has(id) || again.has(id)),
      60_000,
      "every event never acked to be delivered again",
    );
    const redeliveredConfirmed = [...confirmed].filter((id) => again.has(id));
    expect(redeliveredConfirmed).toEqual([]);
    const notAcked = [...sequences.keys()].filter((id) => !ackSent.has(id));
    expect(notAcked.filter((id) => !again.has(id))).toEqual([]);
    expect(again.size).toBeGreaterThanOrEqual(notAcked.length);
    expect(again.size).toBeLessThanOrEqual(expected);
    // Give the group time to show a stray redelivery, then check its books.
    await waitFor(async () => (await client.getGroup("crash-workers")).backlog === 0n, 10_000, "an empty backlog");
    await new Promise((r) => setTimeout(r, 300));
    expect([...confirmed].filter((id) => again.has(id))).toEqual([]);
    const info = await client.getGroup("crash-workers");
    expect(info.inFlight).toBe(0n);
    expect(info.backlog).toBe(0n);
    redelivered.close();
    await collecting;
    console.log(
      `group crash: killed after ${confirmed.size} confirmed acks (${ackSent.size} sent) of ${firstRun.size} delivered; ` +
        `${again.size} delivered again after the restart, ${notAcked.length} of them never acked`,
    );

    // Dedupe across the restart: the id is stored once, with its original sequence.
    const original = sequences.get("crash-42") ?? 0n;
    const dup = await client.publish({ id: "crash-42", type: "crash.job.created" });
    expect(dup).toEqual({ id: "crash-42", sequence: original, duplicate: true });
    const copies = [];
    for await (const event of client.queryAll({ patterns: ["crash.>"], limit: 1000 })) if (event.id === "crash-42") copies.push(event.sequence);
    expect(copies).toEqual([original]);
  });
});
