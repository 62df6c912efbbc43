/**
 * Two protobus servers on one JetStream: what one accepts the other
 * delivers, and one consumer group with members on both servers shares the
 * work with no event handled twice when every handler acks; when the server
 * running a group is killed with kill -9, the other takes the group over and
 * its members get every event, also a member whose window was full of
 * deliveries forwarded by the dead owner. A real `nats-server -js` on a free port with
 * a temporary store.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient, type ReceivedEvent } from "@protobus/sdk";
import { natsServerAvailable, startNatsServer, type NatsServer } from "../support/nats.js";
import { spawnServer, startTestServer, tempDir, waitFor, type ServerProcess, type TestServer } from "../support/test-server.js";

interface OwnerAndSurvivor {
  readonly owner: ServerProcess;
  readonly ownerClient: ProtobusClient;
  readonly survivorClient: ProtobusClient;
}

/**
 * Runs `body` with two `protobus serve` processes on one JetStream stream
 * (`--store jetstream` plus `args`), each with a client: `owner`, which the
 * test opens its group through first and kills, and the survivor. Both are
 * stopped and their data directory removed afterwards.
 */
async function withOwnerAndSurvivor(args: readonly string[], body: (servers: OwnerAndSurvivor) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const all = ["--store", "jetstream", ...args, "--data-dir", dir.path];
  const owner = await spawnServer(all);
  const survivor = await spawnServer(all);
  const ownerClient = createClient({ address: owner.address, source: "test" });
  const survivorClient = createClient({ address: survivor.address, source: "test" });
  try {
    await body({ owner, ownerClient, survivorClient });
  } finally {
    await ownerClient.close();
    await survivorClient.close();
    await owner.stop("SIGKILL");
    await survivor.stop();
    dir.dispose();
  }
}

describe.runIf(natsServerAvailable())("two protobus servers on one JetStream", () => {
  let nats: NatsServer;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    nats = await startNatsServer();
    const options = { store: "jetstream" as const, natsUrl: nats.url, jetstreamStream: "TWO", jetstreamSubjectPrefix: "two" };
    a = await startTestServer(options);
    b = await startTestServer(options);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await nats?.dispose();
  });

  it("delivers to a broadcast subscriber on one server what was published through the other", async () => {
    const received: ReceivedEvent[] = [];
    const sub = b.client.subscribe("fan.>", async (event) => void received.push(event), { from: "latest" });
    await sub.opened();
    const published = [];
    for (let i = 0; i < 5; i++) {
      published.push(...(await a.client.publish(Array.from({ length: 40 }, (_, j) => ({ type: "fan.out.created", data: { i, j } })))));
    }
    await waitFor(() => received.length === 200, 15_000, "200 deliveries on the other server");
    expect(received.map((e) => e.id)).toEqual(published.map((p) => p.id));
    expect(received.map((e) => e.sequence)).toEqual(published.map((p) => p.sequence));
    sub.close();
  });

  it("shares one group between members on both servers, each event handled once", async () => {
    const handledBy = new Map<string, string>();
    const duplicates: string[] = [];
    const member = (server: TestServer, name: string) =>
      server.client.subscribe(
        "work.>",
        async (event) => {
          if (handledBy.has(event.id)) duplicates.push(event.id);
          handledBy.set(event.id, name);
          // Work takes a while, so every member's window fills and all take part.
          await new Promise((resolve) => setTimeout(resolve, 5));
        },
        { group: "shared-work", from: "earliest", maxInFlight: 8 },
      );
    const members = [member(a, "a1"), member(b, "b1"), member(a, "a2"), member(b, "b2")];
    await Promise.all(members.map((m) => m.opened()));
    const total = 1000;
    for (let i = 0; i < total / 100; i++) {
      await (i % 2 === 0 ? a : b).client.publish(Array.from({ length: 100 }, (_, j) => ({ type: "work.item.created", data: { i, j } })));
    }
    await waitFor(() => handledBy.size === total, 60_000, `${total} handled events`);
    expect(duplicates).toEqual([]);
    const perServer = { a: 0, b: 0 };
    for (const name of handledBy.values()) perServer[name.startsWith("a") ? "a" : "b"] += 1;
    expect(perServer.a).toBeGreaterThan(0);
    expect(perServer.b).toBeGreaterThan(0);
    // Both servers see the same group, whichever of them runs it.
    await waitFor(async () => (await a.client.getGroup("shared-work")).acked === BigInt(total), 15_000, "every ack recorded");
    const seenFromB = await b.client.getGroup("shared-work");
    expect(seenFromB).toMatchObject({ acked: BigInt(total), delivered: BigInt(total), redelivered: 0n, backlog: 0n, members: 4 });
    for (const m of members) m.close();
    expect(duplicates).toEqual([]);
  });

  it("wakes a member whose window was full of forwarded deliveries when the owner died, once the group is taken over", async () => {
    const args = ["--nats-url", nats.url, "--jetstream-stream", "WAKE", "--jetstream-subject-prefix", "wake"];
    await withOwnerAndSurvivor(args, async ({ owner, ownerClient, survivorClient }) => {
      const options = { group: "wake", from: "earliest" as const, ackDeadlineMs: 60_000 };
      // The member on `owner` takes one event and never finishes it.
      const onOwner = ownerClient.subscribe("wake.>", () => new Promise<void>(() => undefined), { ...options, maxInFlight: 1 });
      await onOwner.opened();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const handled = new Set<string>();
      let started = 0;
      const onSurvivor = survivorClient.subscribe(
        "wake.>",
        async (event) => {
          started += 1;
          await gate;
          handled.add(event.id);
        },
        { ...options, maxInFlight: 2 },
      );
      await onSurvivor.opened();
      const ids = (await survivorClient.publish(Array.from({ length: 20 }, (_, n) => ({ type: "wake.item.created", data: { n } })))).map((r) => r.id);
      // The survivor's window is full of deliveries forwarded by `owner` ...
      await waitFor(() => started === 2, 20_000, "two deliveries on the survivor");
      // ... when `owner` dies; they are acked while nobody runs the group.
      await owner.stop("SIGKILL");
      onOwner.close();
      release();
      // Nothing is published after the kill: only the takeover can wake the member.
      await waitFor(() => ids.every((id) => handled.has(id)), 60_000, "every event handled after the takeover");
      onSurvivor.close();
    });
  }, 120_000);

  it("takes a group over when the protobus server running it is killed with kill -9", async () => {
    const args = ["--nats-url", nats.url, "--jetstream-stream", "TAKEOVER"];
    await withOwnerAndSurvivor(args, async ({ owner, ownerClient, survivorClient }) => {
      const handled = new Map<string, number>();
      const handler = async (event: ReceivedEvent) => {
        handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 2));
      };
      const options = { group: "takeover", from: "earliest" as const, maxInFlight: 16, ackDeadlineMs: 30_000 };
      // Opened first through `owner`, so `owner` runs the group.
      const onOwner = ownerClient.subscribe("job.>", handler, options);
      await onOwner.opened();
      const onSurvivor = survivorClient.subscribe("job.>", handler, options);
      await onSurvivor.opened();
      const ids: string[] = [];
      const publish = async (from: number) => {
        const results = await survivorClient.publish(Array.from({ length: 250 }, (_, i) => ({ type: "job.step.created", data: { n: from + i } })));
        ids.push(...results.map((r) => r.id));
      };
      await publish(0);
      await waitFor(() => handled.size >= 50, 20_000, "some events handled before the kill");
      await owner.stop("SIGKILL");
      onOwner.close();
      await publish(250);
      await publish(500);
      // Every event reaches a member: after the lease runs out the survivor runs the group.
      await waitFor(() => ids.every((id) => handled.has(id)), 60_000, "every event handled after the takeover");
      await waitFor(async () => (await survivorClient.getGroup("takeover")).backlog === 0n, 30_000, "an empty backlog");
      const stats = await survivorClient.getGroup("takeover");
      expect(stats.inFlight).toBe(0n);
      onSurvivor.close();
    });
  }, 120_000);
});
