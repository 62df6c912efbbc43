/**
 * Consumer-group conformance: sharing, acks, redelivery with backoff, dead
 * letters and redrive, priority, TTL, ordering keys, deletion and (for
 * durable backends) survival across a reopen. Every backend passes it
 * unchanged. On JetStream the group runs on the one server holding its
 * lease (here: the only one) with its state in KV and its dead letters in
 * the dead-letter stream; what differs with several servers (forwarding,
 * failover after the lease time) is covered by test/jetstream/.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code, ProtobusError } from "@protobus/sdk";
import { Event } from "@protobus/sdk/proto";
import type { GroupDelivery, GroupHandle, GroupSettings, StorageBackend } from "@protobus/server";
import { BACKENDS, disposeSharedNats, type OpenedBackend } from "./backends.js";

afterAll(() => disposeSharedNats());

let counter = 0;
function event(type: string, extra: Partial<Event> = {}): Event {
  counter += 1;
  return Event.fromPartial({ id: `g-${counter}-${Math.random().toString(36).slice(2)}`, source: "test", type, specVersion: "1.0", priority: 4, ...extra });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Claims until something comes or the timeout passes. */
async function claimSome(handle: GroupHandle, member: string, max: number, timeoutMs = 5000): Promise<GroupDelivery[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await handle.claim(member, max);
    if (got.length > 0 || Date.now() > deadline) return got;
    await sleep(5);
  }
}

/** Claims one delivery, noting when the claim that returned it started and when it returned. */
async function claimTimed(handle: GroupHandle, member: string, timeoutMs = 5000): Promise<{ delivery: GroupDelivery; startedAt: number; at: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const startedAt = Date.now();
    const [delivery] = await handle.claim(member, 1);
    if (delivery !== undefined) return { delivery, startedAt, at: Date.now() };
    if (Date.now() > deadline) throw new Error(`no delivery within ${timeoutMs} ms`);
    await sleep(5);
  }
}

function seqs(deliveries: readonly GroupDelivery[]): number[] {
  return deliveries.map((d) => Number(d.stored.sequence));
}

const WITH_GROUPS = BACKENDS.filter((h) => h.groups);
const WITHOUT_GROUPS = BACKENDS.filter((h) => !h.groups);

// A backend that has no consumer groups yet must say so clearly.
if (WITHOUT_GROUPS.length > 0) describe.each(WITHOUT_GROUPS)("$kind without groups", (harness) => {
  it("refuses to open a group with UNIMPLEMENTED", async () => {
    const opened = await harness.open();
    try {
      await expect(
        opened.backend.groups.open({ name: "g", patterns: ["job.>"], filter: "", settings: {}, startAfter: 0n }),
      ).rejects.toMatchObject({ code: Code.UNIMPLEMENTED });
      expect(await opened.backend.groups.list()).toEqual([]);
    } finally {
      await opened.dispose();
    }
  });
});

describe.each(WITH_GROUPS)("$kind groups", (harness) => {
  let opened: OpenedBackend;
  let store: StorageBackend;
  beforeEach(async () => {
    opened = await harness.open();
    store = opened.backend;
  });
  afterEach(() => opened.dispose());

  const open = (name: string, settings: Partial<GroupSettings> = {}, extra: { patterns?: string[]; filter?: string; startAfter?: bigint } = {}) =>
    store.groups.open({ name, patterns: extra.patterns ?? ["job.>"], filter: extra.filter ?? "", settings, startAfter: extra.startAfter ?? 0n });

  it("shares 3,000 events among 3 members, each delivered once when all ack", async () => {
    const group = await open("workers");
    for (let i = 0; i < 3; i++) {
      await store.append(Array.from({ length: 1000 }, () => event("job.run")), { dedupeWindowMs: 0 });
    }
    const members = ["m1", "m2", "m3"];
    for (const m of members) group.join(m);
    const seen = new Map<number, string>();
    const perMember = new Map<string, number>(members.map((m) => [m, 0]));
    let idle = 0;
    while (seen.size < 3000 && idle < 50) {
      let progressed = false;
      for (const m of members) {
        const got = await group.claim(m, 64);
        for (const d of got) {
          const seq = Number(d.stored.sequence);
          expect(seen.has(seq), `sequence ${seq} delivered twice`).toBe(false);
          seen.set(seq, m);
          expect(d.attempt).toBe(1);
        }
        perMember.set(m, (perMember.get(m) ?? 0) + got.length);
        if (got.length > 0) progressed = true;
        await group.ack(got.map((d) => d.deliveryId));
      }
      idle = progressed ? 0 : idle + 1;
    }
    expect(seen.size).toBe(3000);
    for (const m of members) expect(perMember.get(m)).toBeGreaterThan(0);
    expect(await group.claim("m1", 100)).toEqual([]);
    const stats = await store.groups.get("workers");
    expect(stats).toMatchObject({ acked: 3000, delivered: 3000, redelivered: 0, inFlight: 0, backlog: 0, members: 3 });
  });

  it("uses the documented defaults: 30 s ack deadline, 5 deliveries, backoff 1 s to 60 s", async () => {
    const group = await open("defaults");
    expect(group.definition.settings).toEqual({ ackDeadlineMs: 30_000, maxDeliveries: 5, backoffMinMs: 1_000, backoffMaxMs: 60_000 });
    expect(await store.groups.get("defaults")).toMatchObject({
      members: 0,
      backlog: 0,
      inFlight: 0,
      delivered: 0,
      redelivered: 0,
      deadLettered: 0,
      deadLetters: 0,
      expired: 0,
    });
  });

  it("starts after the given sequence and only takes matching types", async () => {
    await store.append([event("job.run"), event("job.run")], { dedupeWindowMs: 0 });
    const group = await open("late", {}, { startAfter: 2n, patterns: ["job.run"] });
    await store.append([event("other.thing"), event("job.run"), event("job.stop")], { dedupeWindowMs: 0 });
    const got = await claimSome(group, "m", 10);
    expect(seqs(got)).toEqual([4]);
  });

  it("redelivers after the ack deadline and a nack, with exponential backoff", async () => {
    // Each wait is measured from a moment taken before the action that
    // starts it, so a slow machine can only make it longer: the lower bounds
    // are exact, and the upper bounds only tell one backoff step from the next.
    const group = await open("retry", { ackDeadlineMs: 150, backoffMinMs: 200, backoffMaxMs: 500, maxDeliveries: 10 });
    await store.append([event("job.run")], { dedupeWindowMs: 0 });
    const first = await claimTimed(group, "m");
    expect(first.delivery.attempt).toBe(1);
    // Not acked: back after the deadline (150 ms) plus the first backoff (200 ms).
    const second = await claimTimed(group, "m");
    expect(second.delivery.attempt).toBe(2);
    expect(second.at - first.startedAt).toBeGreaterThanOrEqual(345);
    // A nack without delay: the backoff doubles (400 ms).
    const t1 = Date.now();
    await group.nack([second.delivery.deliveryId], { reason: "boom" });
    expect(await group.claim("m", 1)).toEqual([]);
    const third = await claimTimed(group, "m");
    expect(third.at - t1).toBeGreaterThanOrEqual(395);
    expect(third.delivery.attempt).toBe(3);
    // Capped at backoffMax (500 ms), not 800.
    const t2 = Date.now();
    await group.nack([third.delivery.deliveryId], {});
    const fourth = await claimTimed(group, "m");
    expect(fourth.at - t2).toBeGreaterThanOrEqual(495);
    expect(fourth.at - t2).toBeLessThan(795);
    expect(fourth.delivery.attempt).toBe(4);
    // An explicit delay wins over the backoff: a zero delay is due at once.
    const t3 = Date.now();
    await group.nack([fourth.delivery.deliveryId], { delayMs: 0 });
    const fifth = await claimTimed(group, "m");
    expect(fifth.at - t3).toBeLessThan(495);
    expect(fifth.delivery.attempt).toBe(5);
    // A stale delivery id does nothing; extending keeps it out past the deadline.
    await group.nack([fourth.delivery.deliveryId], { delayMs: 0 });
    await group.extend([fifth.delivery.deliveryId], 3000);
    await sleep(400);
    expect(await group.claim("m", 1)).toEqual([]);
    await group.ack([fifth.delivery.deliveryId]);
    const stats = await store.groups.get("retry");
    expect(stats).toMatchObject({ acked: 1, delivered: 5, redelivered: 4, nacked: 3, inFlight: 0, backlog: 0 });
  });

  it("dead-letters after max deliveries, lists, redrives and purges", async () => {
    const group = await open("dlq", { maxDeliveries: 2, backoffMinMs: 1, backoffMaxMs: 1 });
    await store.append([event("job.run", { id: "poison" }), event("job.run", { id: "fine" }), event("job.stop", { id: "other" })], {
      dedupeWindowMs: 0,
    });
    const settledFine = new Set<string>();
    for (let round = 0; round < 10; round++) {
      const got = await group.claim("m", 10);
      for (const d of got) {
        if (d.stored.event.id === "fine") {
          await group.ack([d.deliveryId]);
          settledFine.add(d.deliveryId);
        } else await group.nack([d.deliveryId], { reason: `failed ${d.stored.event.id} #${d.attempt}` });
      }
      await sleep(10);
    }
    const dead = await store.groups.listDeadLetters("dlq", { afterSequence: 0n, limit: 10 });
    expect(dead.map((d) => d.stored.event.id)).toEqual(["poison", "other"]);
    expect(dead[0]).toMatchObject({ attempts: 2, reason: "failed poison #2" });
    expect(dead[0]?.deadAt).toBeInstanceOf(Date);
    const onlyStop = await store.groups.listDeadLetters("dlq", { afterSequence: 0n, limit: 10, patterns: ["job.stop"] });
    expect(onlyStop.map((d) => d.stored.event.id)).toEqual(["other"]);
    expect(await store.groups.get("dlq")).toMatchObject({ deadLetters: 2, deadLettered: 2, backlog: 0, inFlight: 0 });
    expect(await group.claim("m", 10)).toEqual([]);

    expect(await store.groups.redrive("dlq", { sequences: [1n] })).toBe(1);
    const again = await claimSome(group, "m", 10);
    expect(again.map((d) => [d.stored.event.id, d.attempt])).toEqual([["poison", 1]]);
    await group.ack([again[0]?.deliveryId ?? ""]);
    expect(await store.groups.get("dlq")).toMatchObject({ deadLetters: 1, acked: 2 });

    expect(await store.groups.purge("dlq", { all: true })).toBe(1);
    expect(await store.groups.listDeadLetters("dlq", { afterSequence: 0n, limit: 10 })).toEqual([]);
    await expect(store.groups.listDeadLetters("nope", { afterSequence: 0n, limit: 10 })).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it("delivers lower priority values first, then in sequence order", async () => {
    await store.append(
      [
        event("job.run", { priority: 7, id: "p7" }),
        event("job.run", { priority: 0, id: "p0a" }),
        event("job.run", { id: "p4" }),
        event("job.run", { priority: 0, id: "p0b" }),
        event("job.run", { priority: 9, id: "p9" }),
        event("job.run", { priority: 2, id: "p2" }),
      ],
      { dedupeWindowMs: 0 },
    );
    const group = await open("prio");
    const got = await claimSome(group, "m", 10);
    expect(got.map((d) => d.stored.event.id)).toEqual(["p0a", "p0b", "p2", "p4", "p7", "p9"]);
  });

  it("does not deliver expired events and counts them", async () => {
    const past = new Date(Date.now() - 1000);
    const soon = new Date(Date.now() + 150);
    await store.append(
      [event("job.run", { id: "gone", expireTime: past }), event("job.run", { id: "soon", expireTime: soon }), event("job.run", { id: "keep" })],
      { dedupeWindowMs: 0 },
    );
    await sleep(200);
    const group = await open("ttl");
    const got = await claimSome(group, "m", 10);
    expect(got.map((d) => d.stored.event.id)).toEqual(["keep"]);
    await group.ack(got.map((d) => d.deliveryId));
    expect(await store.groups.get("ttl")).toMatchObject({ expired: 2, backlog: 0 });
  });

  it("delivers one event per ordering key at a time, in sequence order", async () => {
    await store.append(
      [
        event("job.run", { id: "a1", orderingKey: "a" }),
        event("job.run", { id: "b1", orderingKey: "b" }),
        event("job.run", { id: "a2", orderingKey: "a", priority: 0 }),
        event("job.run", { id: "free" }),
        event("job.run", { id: "b2", orderingKey: "b" }),
        event("job.run", { id: "a3", orderingKey: "a" }),
      ],
      { dedupeWindowMs: 0 },
    );
    const group = await open("ordered", { maxDeliveries: 1 });
    const first = await claimSome(group, "m", 10);
    expect(first.map((d) => d.stored.event.id).sort()).toEqual(["a1", "b1", "free"]);
    const byId = new Map(first.map((d) => [d.stored.event.id, d]));
    await group.ack([byId.get("a1")?.deliveryId ?? ""]);
    const second = await claimSome(group, "m", 10);
    expect(second.map((d) => d.stored.event.id)).toEqual(["a2"]);
    // Dead-lettering releases the key too.
    await group.nack([byId.get("b1")?.deliveryId ?? ""], { reason: "no" });
    const third = await claimSome(group, "m", 10);
    expect(third.map((d) => d.stored.event.id)).toEqual(["b2"]);
    await group.ack([second[0]?.deliveryId ?? "", third[0]?.deliveryId ?? ""]);
    const fourth = await claimSome(group, "m", 10);
    expect(fourth.map((d) => d.stored.event.id)).toEqual(["a3"]);
  });

  it("applies the group filter", async () => {
    const group = await open("targeted", {}, { filter: 'subject == "agent-7" || attributes.role == "planner"' });
    await store.append(
      [
        event("job.run", { id: "for-7", subject: "agent-7" }),
        event("job.run", { id: "for-8", subject: "agent-8" }),
        event("job.run", { id: "planner", attributes: { role: "planner" } }),
      ],
      { dedupeWindowMs: 0 },
    );
    const got = await claimSome(group, "m", 10);
    expect(got.map((d) => d.stored.event.id)).toEqual(["for-7", "planner"]);
  });

  it("takes a dead-lettered delivery out of its member's in-flight count and bytes once", async () => {
    const group = await open("dlq-in-flight", { maxDeliveries: 1 });
    group.join("m");
    await store.append([event("job.run"), event("job.run"), event("job.run")], { dedupeWindowMs: 0 });
    const got: GroupDelivery[] = [];
    while (got.length < 3) {
      const more = await claimSome(group, "m", 3 - got.length);
      if (more.length === 0) break;
      got.push(...more);
    }
    const [poison, a, b] = got;
    if (poison === undefined || a === undefined || b === undefined) throw new Error("expected three deliveries");
    await group.nack([poison.deliveryId], { reason: "poison" });
    expect(group.inFlightOf("m")).toBe(2);
    expect(group.inFlightBytesOf("m")).toBe(a.stored.bytes.byteLength + b.stored.bytes.byteLength);
    await group.ack([a.deliveryId, b.deliveryId]);
    expect(group.inFlightOf("m")).toBe(0);
    expect(group.inFlightBytesOf("m")).toBe(0);
    expect(await store.groups.get("dlq-in-flight")).toMatchObject({ deadLettered: 1, acked: 2, inFlight: 0, backlog: 0 });
  });

  it("gives a leaving member's deliveries to the others", async () => {
    const group = await open("handover", { backoffMinMs: 5000 });
    group.join("a");
    group.join("b");
    await store.append([event("job.run"), event("job.run")], { dedupeWindowMs: 0 });
    const taken = await claimSome(group, "a", 10);
    expect(taken).toHaveLength(2);
    expect(group.inFlightOf("a")).toBe(2);
    expect(await group.claim("b", 10)).toEqual([]);
    await group.leave("a");
    const moved = await claimSome(group, "b", 10);
    expect(seqs(moved)).toEqual(seqs(taken));
    expect(moved.every((d) => d.attempt === 2)).toBe(true);
    expect(group.inFlightOf("b")).toBe(2);
    expect(await store.groups.get("handover")).toMatchObject({ members: 1, inFlight: 2 });
  });

  it("refuses to reopen a group with other patterns, updates settings, lists and deletes", async () => {
    const group = await open("g1", { ackDeadlineMs: 1000 });
    await open("g2");
    await expect(open("g1", {}, { patterns: ["other.>"] })).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    const again = await open("g1", { maxDeliveries: 9 });
    expect(again.definition.settings).toMatchObject({ ackDeadlineMs: 1000, maxDeliveries: 9 });
    expect((await store.groups.list()).map((g) => g.definition.name)).toEqual(["g1", "g2"]);
    expect(await store.groups.delete("g1")).toBe(true);
    expect(await store.groups.delete("g1")).toBe(false);
    expect(await store.groups.get("g1")).toBeUndefined();
    const error = await group.claim("m", 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtobusError);
    expect((error as ProtobusError).code).toBe(Code.NOT_FOUND);
    expect((await store.groups.list()).map((g) => g.definition.name)).toEqual(["g2"]);
  });

  // Only durable backends promise this.
  if (harness.durable) it("keeps a group's position, retries and dead letters across a reopen", async () => {
    let group = await open("durable", { maxDeliveries: 2, backoffMinMs: 1, backoffMaxMs: 1, ackDeadlineMs: 60_000 });
    await store.append(Array.from({ length: 10 }, (_, i) => event("job.run", { id: `e${i + 1}` })), { dedupeWindowMs: 0 });
    const got = await claimSome(group, "m", 10);
    expect(got).toHaveLength(10);
    // Ack 1-3 and 6; nack 4 twice (dead); nack 5 once; leave 7-10 in flight.
    const id = (n: number) => got[n - 1]?.deliveryId ?? "";
    await group.ack([id(1), id(2), id(3), id(6)]);
    await group.nack([id(4)], { reason: "bad" });
    await group.nack([id(5)], { reason: "later", delayMs: 0 });
    await sleep(20);
    const retry = await claimSome(group, "m", 10);
    const four = retry.find((d) => d.stored.event.id === "e4");
    await group.nack([four?.deliveryId ?? ""], { reason: "still bad" });
    const five = retry.find((d) => d.stored.event.id === "e5");
    expect(five?.attempt).toBe(2);

    store = await opened.reopen();
    expect((await store.groups.list()).map((g) => g.definition.name)).toEqual(["durable"]);
    group = await open("durable");
    expect(group.definition.settings.maxDeliveries).toBe(2);
    const after = await claimSome(group, "m", 20);
    expect(after.map((d) => d.stored.event.id).sort()).toEqual(["e10", "e5", "e7", "e8", "e9"]);
    expect(after.find((d) => d.stored.event.id === "e7")?.attempt).toBe(1);
    const dead = await store.groups.listDeadLetters("durable", { afterSequence: 0n, limit: 10 });
    expect(dead.map((d) => [d.stored.event.id, d.attempts, d.reason])).toEqual([["e4", 2, "still bad"]]);
    await group.ack(after.map((d) => d.deliveryId));
    store = await opened.reopen();
    group = await open("durable");
    expect(await group.claim("m", 20)).toEqual([]);
    expect(await store.groups.get("durable")).toMatchObject({ backlog: 0, deadLetters: 1, acked: 9 });
  });
});
