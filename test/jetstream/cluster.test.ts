/**
 * protobus on a 3-node JetStream cluster (routes on free loopback ports, R3
 * stream and buckets), started by the test:
 * - 10,000 events published while the stream leader is killed with kill -9
 *   mid-way: every acknowledged publish is readable afterwards, and a
 *   consumer group consuming through the kill loses nothing;
 * - a protobus server restart against the surviving cluster loses nothing
 *   and redelivers nothing whose ack was confirmed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { EventInput, ProtobusClient, ReceivedEvent, Subscription } from "@protobus/sdk";
import { natsServerAvailable, startNatsCluster, type NatsCluster } from "../support/nats.js";
import { startTestServer, waitFor, type TestServer } from "../support/test-server.js";

const STREAM = "CLUSTERED";

/** Publishes a batch, retrying (with the same ids, so a retry is deduplicated) while the cluster fails over. */
async function publishWithRetry(client: ProtobusClient, events: readonly EventInput[]): Promise<number> {
  let retries = 0;
  const deadline = Date.now() + 45_000;
  for (;;) {
    try {
      await client.publish(events);
      return retries;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      retries += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function batch(from: number, size: number, type: string): EventInput[] {
  return Array.from({ length: size }, (_, k) => ({ id: `${type}-${from + k}`, type, data: { n: from + k } }));
}

describe.runIf(natsServerAvailable())("protobus on a 3-node JetStream cluster", () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let server: TestServer;
  const serverOptions = () => ({
    store: "jetstream" as const,
    natsUrl: cluster.urls.join(","),
    jetstreamStream: STREAM,
    jetstreamSubjectPrefix: "clustered",
    jetstreamReplicas: 3,
  });

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    nc = await connect({ servers: [...cluster.urls], maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    server = await startTestServer(serverOptions());
  }, 90_000);
  afterAll(async () => {
    await server?.close();
    await nc?.close();
    await cluster?.dispose();
  });

  it("keeps every acknowledged publish and every group event through a kill -9 of the stream leader", async () => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(STREAM);
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas?.length).toBe(2);

    const handled = new Map<string, number>();
    const member = server.client.subscribe(
      "kill.>",
      async (event) => {
        handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
      },
      { group: "through-kill", from: "earliest", maxInFlight: 256, ackDeadlineMs: 5000 },
    );
    await member.opened();

    const total = 10_000;
    const size = 200;
    const acknowledged: string[] = [];
    let retries = 0;
    let killed = "";
    const started = Date.now();
    for (let from = 0; from < total; from += size) {
      if (from === total / 2) {
        // kill -9 the node leading the event stream, mid-way.
        const leader = (await jsm.streams.info(STREAM)).cluster?.leader ?? "";
        const index = Number(leader.slice(1)) - 1;
        expect(index).toBeGreaterThanOrEqual(0);
        await (cluster.nodes[index] as NatsCluster["nodes"][number]).kill();
        killed = leader;
      }
      const events = batch(from, size, "kill.job.created");
      retries += await publishWithRetry(server.client, events);
      for (const e of events) acknowledged.push(e.id as string);
    }
    expect(killed).not.toBe("");
    expect(acknowledged).toHaveLength(total);

    // Every acknowledged publish is readable, once.
    const read = new Map<string, number>();
    for await (const event of server.client.queryAll({ patterns: ["kill.>"], limit: 1000 })) read.set(event.id, (read.get(event.id) ?? 0) + 1);
    expect(acknowledged.filter((id) => read.get(id) !== 1)).toEqual([]);
    expect(read.size).toBe(total);

    // The group lost nothing (redelivery across the failover is allowed: at least once).
    await waitFor(() => acknowledged.every((id) => handled.has(id)), 60_000, "every event handled by the group");
    await waitFor(async () => (await server.client.getGroup("through-kill")).backlog === 0n, 30_000, "an empty backlog");
    const twice = [...handled.values()].filter((n) => n > 1).length;
    console.info(
      `cluster: ${total} events through a kill -9 of ${killed} in ${Date.now() - started} ms, ${retries} publish retries, ` +
        `${twice} events handled more than once by the group`,
    );
    member.close();
  }, 120_000);

  it("loses nothing and redelivers nothing acked across a protobus server restart on the surviving cluster", async () => {
    const confirmed = new Set<string>();
    const redeliveredAfterConfirm: string[] = [];
    const seen = new Set<string>();
    const consume = (client: ProtobusClient, stopAfter: number): { sub: Subscription; done: Promise<void> } => {
      const sub = client.subscribe("restart.>", { group: "across-restart", from: "earliest", maxInFlight: 32 });
      const done = (async () => {
        const pending: Promise<void>[] = [];
        for await (const event of sub as AsyncIterable<ReceivedEvent>) {
          if (confirmed.has(event.id)) redeliveredAfterConfirm.push(event.id);
          seen.add(event.id);
          pending.push(event.ackAndWait().then(() => void confirmed.add(event.id)));
          if (pending.length >= stopAfter) {
            // Stop only once every ack taken is confirmed.
            await Promise.allSettled(pending);
            break;
          }
        }
      })();
      return { sub, done };
    };

    const total = 2000;
    for (let from = 0; from < total; from += 250) await publishWithRetry(server.client, batch(from, 250, "restart.job.created"));
    const first = consume(server.client, total / 2);
    await first.done;
    first.sub.close();
    const confirmedBefore = confirmed.size;
    expect(confirmedBefore).toBeGreaterThan(0);

    // Restart: a new protobus server process state, the same cluster.
    await server.close();
    server = await startTestServer(serverOptions());
    const second = consume(server.client, total);
    await waitFor(() => confirmed.size === total, 60_000, "every event confirmed");
    second.sub.close();
    await second.done.catch(() => undefined);

    expect(redeliveredAfterConfirm).toEqual([]);
    expect(confirmed.size).toBe(total);
    const stats = await server.client.getGroup("across-restart");
    expect(stats).toMatchObject({ backlog: 0n, acked: BigInt(total) });
    console.info(`restart: ${confirmedBefore} acks confirmed before the restart, ${total - confirmedBefore} after, none redelivered`);
  }, 120_000);
});
