/**
 * The coordinator port on its NATS implementation, with a real nats-server:
 * one server takes a group's lease and answers forwarded operations, the
 * other finds it held and reaches the owner through a RemoteGroup (the
 * protobus.cluster.v1 messages, a failure arriving as the ProtobusError the
 * owner raised); an owner that stopped answering is reported unreachable and
 * its released lease is free; ready announcements reach the other servers
 * and not the sender.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Code, ProtobusError } from "@protobus/sdk";
import { OwnerUnreachableError, type HeldLease } from "../../server/src/storage/groups/group-coordinator.js";
import { answerForwarded, type ForwardTarget } from "../../server/src/storage/groups/forwarded-operations.js";
import { RemoteGroup } from "../../server/src/storage/groups/remote-group.js";
import type { GroupEngine } from "../../server/src/storage/groups/group-engine.js";
import { openBucket } from "../../server/src/storage/jetstream/kv-util.js";
import { NatsGroupCoordinator } from "../../server/src/storage/jetstream/nats-group-coordinator.js";
import { natsServerAvailable, startNatsServer, type NatsServer } from "../support/nats.js";

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type KV = Awaited<ReturnType<typeof openBucket>>;

describe.runIf(natsServerAvailable())("NatsGroupCoordinator", () => {
  let nats: NatsServer;
  let ncA: NatsConnection;
  let ncB: NatsConnection;
  let kv: KV;

  beforeAll(async () => {
    nats = await startNatsServer();
    ncA = await connect({ servers: nats.url });
    ncB = await connect({ servers: nats.url });
    kv = await openBucket(ncA, "COORDINATOR_TEST_GROUPS", { history: 1 });
  });

  afterAll(async () => {
    await ncA?.close();
    await ncB?.close();
    await nats?.dispose();
  });

  const coordinator = (nc: NatsConnection, serverId: string): NatsGroupCoordinator =>
    // Generous times: the machine is shared; nothing here waits for a lease to run out.
    new NatsGroupCoordinator({ nc, kv, prefix: "pbtest", serverId, leaseTtlMs: 60_000, requestTimeoutMs: 10_000 });

  it("gives the lease to one server and forwards the other's operations to it", async () => {
    const a = coordinator(ncA, "server-a");
    const b = coordinator(ncB, "server-b");
    const members: string[] = [];
    // A stand-in engine: only the calls this test forwards.
    const engine = {
      join: (member: string) => void members.push(member),
      redrive: async () => 7,
      purge: async () => {
        throw new ProtobusError(Code.FAILED_PRECONDITION, "not now");
      },
    } as unknown as GroupEngine;
    const target: ForwardTarget = { engine, flushed: async () => undefined, updateSettings: () => undefined, markDeleted: () => undefined };
    const stopServing = await a.serve("orders.v1", (request) => answerForwarded(request, target, "not the owner"));
    const first = await a.acquire("orders.v1", () => undefined);
    expect(first.kind).toBe("acquired");
    const second = await b.acquire("orders.v1", () => undefined);
    if (second.kind !== "held") throw new Error("the lease should be held by server-a");

    const remote = new RemoteGroup(b, second.owner);
    await remote.join("m1");
    expect(members).toEqual(["server-b/m1"]);
    expect(await remote.redrive({ all: true })).toBe(7);
    const failure = await remote.purge({ sequences: [1n, 2n] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ProtobusError);
    expect((failure as ProtobusError).code).toBe(Code.FAILED_PRECONDITION);
    expect((failure as ProtobusError).rawMessage).toBe("not now");

    // The owner stops: it no longer answers, and its released lease is free.
    stopServing();
    await (first as { lease: HeldLease }).lease.release();
    await expect(remote.redrive({ all: true })).rejects.toBeInstanceOf(OwnerUnreachableError);
    const third = await b.acquire("orders.v1", () => undefined);
    expect(third.kind).toBe("acquired");
    if (third.kind === "acquired") await third.lease.release();
  });

  it("answers operations for a group not run here with the failure it gives", async () => {
    const a = coordinator(ncA, "server-a");
    const b = coordinator(ncB, "server-b");
    const stopServing = await a.serve("idle", (request) => answerForwarded(request, undefined, "not the owner"));
    try {
      const remote = new RemoteGroup(b, `pbtest.grp.server-a.${Buffer.from("idle").toString("base64url")}`);
      const failure = await remote.stats().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ProtobusError);
      expect((failure as ProtobusError).code).toBe(Code.UNAVAILABLE);
      expect((failure as ProtobusError).rawMessage).toBe("not the owner");
    } finally {
      stopServing();
    }
  });

  it("carries ready announcements to the other servers, not back to the sender", async () => {
    const a = coordinator(ncA, "server-a");
    const b = coordinator(ncB, "server-b");
    let heardByA = 0;
    let heardByB = 0;
    const stopA = a.onReady("orders.v1", () => (heardByA += 1));
    const stopB = b.onReady("orders.v1", () => (heardByB += 1));
    try {
      await ncA.flush();
      await ncB.flush();
      a.announceReady("orders.v1");
      await waitFor(() => heardByB > 0, "server-b to hear the announcement");
      // The sender's own listener saw its message too (same subject) and ignored it.
      await ncA.flush();
      expect(heardByA).toBe(0);
    } finally {
      stopA();
      stopB();
    }
  });
});
