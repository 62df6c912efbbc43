/**
 * Consumer groups through the real gRPC server and the SDK: members share a
 * group, failed events go to the dead-letter queue and come back by redrive,
 * acks can be confirmed, the admin RPCs and the CLI see the same state, and
 * bad input gets clear statuses.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, type ReceivedEvent, type SubscribeOptions } from "@protobus/sdk";
import { CLI, startTestServer, waitFor, type TestServer } from "../support/test-server.js";

const run = promisify(execFile);

describe("consumer groups over gRPC", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("shares events among three handler members, each event handled once", async () => {
    const handled = new Map<string, string>();
    const duplicates: string[] = [];
    const members = ["a", "b", "c"].map((name) =>
      t.client.subscribe(
        "share.>",
        async (event) => {
          if (handled.has(event.id)) duplicates.push(event.id);
          handled.set(event.id, name);
        },
        { group: "sharers", from: "earliest", maxInFlight: 10 },
      ),
    );
    await Promise.all(members.map((m) => m.opened()));
    await t.client.publish(Array.from({ length: 300 }, (_, i) => ({ type: "share.job.created", data: { i } })));
    await waitFor(() => handled.size === 300, 20_000, "300 handled events");
    expect(duplicates).toEqual([]);
    expect(new Set(handled.values()).size).toBeGreaterThan(1);
    await waitFor(async () => (await t.client.getGroup("sharers")).acked === 300n, 5000, "300 acks");
    const info = await t.client.getGroup("sharers");
    expect(info).toMatchObject({ name: "sharers", patterns: ["share.>"], members: 3, backlog: 0n, inFlight: 0n, delivered: 300n });
    for (const m of members) m.close();
    await waitFor(async () => (await t.client.getGroup("sharers")).members === 0, 5000, "members to leave");
  });

  it("runs handlers concurrently and isolated: one throwing never affects the others", async () => {
    let running = 0;
    let most = 0;
    const failed = new Set<number>();
    const done = new Set<number>();
    const sub = t.client.subscribe(
      "isolated.>",
      async (event) => {
        running += 1;
        most = Math.max(most, running);
        try {
          const n = event.json<{ n: number }>().n;
          await new Promise((r) => setTimeout(r, 20));
          if (n % 5 === 0 && event.attempt === 1) {
            failed.add(n);
            throw new Error(`task ${n} failed`);
          }
          done.add(n);
        } finally {
          running -= 1;
        }
      },
      { group: "isolated", from: "earliest", maxInFlight: 8, backoffMinMs: 10, backoffMaxMs: 20 },
    );
    await sub.opened();
    await t.client.publish(Array.from({ length: 40 }, (_, n) => ({ type: "isolated.job.created", data: { n } })));
    await waitFor(() => done.size === 40, 20_000, "all 40 handled");
    expect(failed.size).toBe(8);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(8);
    await waitFor(async () => (await t.client.getGroup("isolated")).acked === 40n, 5000, "40 acks");
    expect(await t.client.getGroup("isolated")).toMatchObject({ nacked: 8n, redelivered: 8n, deadLettered: 0n });
    sub.close();
  });

  it("dead-letters a failing event after max deliveries, then redrives it", async () => {
    const attempts: number[] = [];
    let fail = true;
    const sub = t.client.subscribe(
      "poison.>",
      async (event) => {
        attempts.push(event.attempt);
        if (fail) throw new Error(`cannot handle ${event.id}`);
      },
      { group: "poisoned", from: "earliest", maxDeliveries: 3, backoffMinMs: 20, backoffMaxMs: 40, ackDeadlineMs: 5000 },
    );
    await sub.opened();
    const { id, sequence } = await t.client.publish({ type: "poison.job.created", data: { bad: true } });
    await waitFor(async () => (await t.client.getGroup("poisoned")).deadLetters === 1n, 10_000, "a dead letter");
    expect(attempts).toEqual([1, 2, 3]);
    const page = await t.client.listDeadLetters("poisoned");
    expect(page.deadLetters).toHaveLength(1);
    expect(page.deadLetters[0]).toMatchObject({ attempts: 3, reason: `cannot handle ${id}` });
    expect(page.deadLetters[0]?.event?.id).toBe(id);

    // The CLI sees the same queue.
    const listed = await run(process.execPath, [CLI, "dlq", "list", "poisoned", "--json", "--address", t.address]);
    expect(JSON.parse(listed.stdout.trim())).toMatchObject({ attempts: 3, event: { id } });

    fail = false;
    const redriven = await run(process.execPath, [CLI, "dlq", "redrive", "poisoned", String(sequence), "--address", t.address]);
    expect(redriven.stdout).toContain("redrove 1 dead letters");
    await waitFor(async () => (await t.client.getGroup("poisoned")).acked === 1n, 10_000, "the redriven event to be acked");
    expect(attempts).toEqual([1, 2, 3, 1]);
    expect(await t.client.getGroup("poisoned")).toMatchObject({ deadLetters: 0n, deadLettered: 1n, redelivered: 2n });
    const stats = await t.client.deliveryStats();
    expect(stats.types.find((s) => s.type === "poison.job.created")).toMatchObject({
      published: 1n,
      delivered: 4n,
      nacked: 3n,
      acked: 1n,
      deadLettered: 1n,
    });
    sub.close();

    const groups = await run(process.execPath, [CLI, "groups", "get", "poisoned", "--json", "--address", t.address]);
    expect(JSON.parse(groups.stdout)).toMatchObject({ name: "poisoned", acked: "1", settings: { maxDeliveries: 3 } });
    const purged = await run(process.execPath, [CLI, "dlq", "purge", "poisoned", "--all", "--address", t.address]);
    expect(purged.stdout).toContain("purged 0 dead letters");
  });

  it("confirms acks, redelivers after the ack deadline, and extends it on request", async () => {
    // One in flight at a time, so the second delivery (and its deadline)
    // starts only once the first is acked; a 1 s deadline leaves a loaded
    // machine room between a delivery and the first extension.
    const sub = t.client.subscribe("confirm.>", {
      group: "confirmers",
      from: "earliest",
      autoAck: false,
      maxInFlight: 1,
      ackDeadlineMs: 1000,
      backoffMinMs: 10,
    });
    await sub.opened();
    await t.client.publish([{ type: "confirm.job.created" }, { type: "confirm.job.created" }]);
    const seen: ReceivedEvent[] = [];
    for await (const event of sub) {
      seen.push(event);
      if (seen.length === 1) {
        await event.ackAndWait();
        expect((await t.client.getGroup("confirmers")).acked).toBe(1n);
      } else if (seen.length === 2) {
        // Keep the second one alive past its 1 s deadline (each extension
        // reaches far past the next one, so a slow machine cannot lapse it),
        // then let it lapse.
        for (let i = 0; i < 8; i++) {
          event.extend(1500);
          await new Promise((r) => setTimeout(r, 150));
        }
        expect((await t.client.getGroup("confirmers")).redelivered).toBe(0n);
      } else {
        expect(event.id).toBe(seen[1]?.id);
        expect(event.attempt).toBe(2);
        event.ack();
        break;
      }
    }
    sub.close();
  });

  it("ends a member's stream with NOT_FOUND when its group is deleted", async () => {
    const sub = t.client.subscribe("gone.>", { group: "doomed" });
    await sub.opened();
    await t.client.deleteGroup("doomed");
    const error = await sub.closed.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtobusError);
    expect((error as ProtobusError).code).toBe(Code.NOT_FOUND);
    await expect(t.client.getGroup("doomed")).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(t.client.deleteGroup("doomed")).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it("rejects bad group input with field violations", async () => {
    const open = async (options: SubscribeOptions) => {
      const sub = t.client.subscribe("bad.>", options);
      return sub.opened().then(
        () => {
          sub.close();
          return undefined;
        },
        (e: unknown) => e as ProtobusError,
      );
    };
    const badName = await open({ group: "no spaces" });
    expect(badName?.code).toBe(Code.INVALID_ARGUMENT);
    expect(badName?.fieldViolations.map((v) => v.field)).toEqual(["open.group"]);
    const badSettings = await open({ group: "ok", ackDeadlineMs: 1, maxDeliveries: 5000, backoffMinMs: 500, backoffMaxMs: 100 });
    expect(badSettings?.fieldViolations.map((v) => v.field).sort()).toEqual([
      "open.group_settings.ack_deadline",
      "open.group_settings.backoff_max",
      "open.group_settings.max_deliveries",
    ]);
    const badFilter = await open({ group: "ok", filter: "subject ==" });
    expect(badFilter?.fieldViolations[0]).toMatchObject({ field: "open.filter" });
    expect(await open({ group: "fixed" })).toBeUndefined();
    const otherPatterns = t.client.subscribe("other.>", { group: "fixed" });
    await expect(otherPatterns.opened()).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    await expect(t.client.redriveDeadLetters("fixed", [])).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(t.client.listDeadLetters("missing")).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });
});
