/**
 * How soon an ack is durable. An ack nobody waits for is committed with the
 * next commit of the group, at most the engine's commit interval (50 ms)
 * later: a server killed with SIGKILL once that interval has passed does
 * not deliver the event again. A confirmed ack (`ackAndWait`) is durable
 * when it is answered, whatever the interval; group-crash.test.ts checks
 * that across a kill at a random point.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient, type ReceivedEvent } from "@protobus/sdk";
import { spawnServer, tempDir, waitFor, type ServerProcess } from "../support/test-server.js";

const TOTAL = 40;
/** The engine's commit interval, with room for a timer that fires late on a loaded machine. */
const COMMIT_BOUND_MS = 50 + 950;

describe("an unconfirmed group ack", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("is committed within the commit interval, without a confirmation or a later write", { timeout: 60_000 }, async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const serve = () => spawnServer(["--data-dir", dir.path, "--store", "sqlite"]);
    let server: ServerProcess = await serve();
    cleanups.push(() => server.stop("SIGKILL"));
    let client: ProtobusClient = createClient({ address: server.address, source: "ack-commit" });
    cleanups.push(() => client.close());
    await client.publish(Array.from({ length: TOTAL }, (_, i) => ({ id: `commit-${i}`, type: "commit.job.created" })));

    // Every event in flight at once, with a deadline that cannot pass: only
    // the acks decide what comes again.
    const options = { group: "commit-workers", from: "earliest" as const, autoAck: false, maxInFlight: TOTAL, ackDeadlineMs: 600_000 };
    const acked = new Set<string>();
    const sub = client.subscribe("commit.>", options);
    // Read without leaving the loop by `break`: that would close the member,
    // and a member leaving commits at once, acks included.
    const events = sub[Symbol.asyncIterator]();
    for (let seen = 1; seen <= TOTAL; seen += 1) {
      const next = await events.next();
      if (next.done === true) throw new Error("the subscription ended early");
      if (seen % 2 === 0) {
        next.value.ack();
        acked.add(next.value.id);
      }
    }
    // The server applied every ack (its counters say so); none was confirmed.
    await waitFor(async () => (await client.getGroup("commit-workers")).acked === BigInt(acked.size), 10_000, "the acks to be applied");
    await new Promise((r) => setTimeout(r, COMMIT_BOUND_MS));
    await server.stop("SIGKILL");
    sub.close();
    await client.close();

    server = await serve();
    client = createClient({ address: server.address, source: "ack-commit" });
    const again = new Map<string, ReceivedEvent>();
    const redelivered = client.subscribe("commit.>", { ...options, autoAck: true });
    const collecting = (async () => {
      for await (const event of redelivered) again.set(event.id, event);
    })();
    await waitFor(() => again.size >= TOTAL - acked.size, 10_000, "the events never acked to come again");
    // Room for a stray redelivery of an acked event to show up.
    await new Promise((r) => setTimeout(r, 300));
    expect([...acked].filter((id) => again.has(id))).toEqual([]);
    expect(again.size).toBe(TOTAL - acked.size);
    redelivered.close();
    await collecting;
  });
});
