/**
 * The group engine's memory: read-ahead bounded in bytes, a member's
 * claims bounded by its unacked bytes, everything drawn from the server's
 * budget and given back when the last member leaves (the store then
 * releases the group and lists it from the persistence); a budget that is
 * spent makes readers wait until bytes are released.
 */
import { describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { createMemoryBackend } from "@protobus/server";
import { MemoryBudget } from "../../server/src/storage/memory-budget.js";
import type { StorageBackend } from "../../server/src/storage/backend.js";

const KIB = 1024;

function event(n: number, size: number): Event {
  return Event.fromPartial({ id: `e-${n}`, type: "mem.item.added", source: "test", data: Buffer.alloc(size, n % 251), dataContentType: "application/octet-stream" });
}

async function backendWith(budget: MemoryBudget, events: number, size: number): Promise<StorageBackend> {
  const backend = createMemoryBackend({ memoryBudget: budget, groupReadAheadBytes: 64 * KIB });
  await backend.append(
    Array.from({ length: events }, (_, i) => event(i, size)),
    { dedupeWindowMs: 0 },
  );
  return backend;
}

const open = { patterns: ["mem.>"], filter: "", settings: {}, startAfter: 0n };

describe("group memory", () => {
  it("takes, gives back and wakes those waiting once", async () => {
    const budget = new MemoryBudget(100);
    expect(budget.tryTake("unacked", 60)).toBe(true);
    expect(budget.tryTake("read_ahead", 60)).toBe(false);
    let woken = 0;
    budget.onceReleased(() => (woken += 1));
    budget.release("unacked", 30);
    budget.release("unacked", 30);
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toBe(1);
    expect(budget.held()).toBe(0);
  });

  it("reads ahead at most its bytes, claims within a member's bytes, and releases the group when its last member leaves", async () => {
    const budget = new MemoryBudget(64 * 2 ** 20);
    const backend = await backendWith(budget, 200, 4 * KIB);
    const group = await backend.groups.open({ name: "g", ...open });
    group.join("m1");
    const first = await group.claim("m1", 100, 10 * KIB);
    // The read-ahead holds at most 64 KiB (plus the one event that crosses it); the claim stopped at the member's bytes.
    expect(first.length).toBeGreaterThanOrEqual(2);
    expect(first.length).toBeLessThanOrEqual(3);
    expect(group.inFlightBytesOf("m1")).toBeGreaterThan(8 * KIB);
    expect(budget.held("unacked")).toBe(group.inFlightBytesOf("m1"));
    expect(budget.held("read_ahead")).toBeLessThanOrEqual(64 * KIB + 5 * KIB);
    await group.leave("m1");
    expect(budget.held()).toBe(0);
    // Listed from the persistence: the delivered events wait as retries, nothing is loaded.
    const stats = await backend.groups.get("g");
    expect(stats?.members).toBe(0);
    expect(stats?.backlog).toBe(200);
    expect(stats?.delivered).toBe(first.length);
    // Opened again, it goes on where it was: the returned events first.
    const again = await backend.groups.open({ name: "g", ...open });
    expect(again).not.toBe(group);
    again.join("m2");
    const redelivered = await again.claim("m2", 1);
    expect(redelivered[0]?.attempt).toBe(2);
    await again.leave("m2");
    await backend.close();
  });

  it("stops reading ahead when the server's budget is spent, and reads on once bytes are released", async () => {
    const budget = new MemoryBudget(16 * KIB);
    const backend = await backendWith(budget, 20, 4 * KIB);
    expect(budget.tryTake("unacked", 16 * KIB)).toBe(true);
    const group = await backend.groups.open({ name: "waits", ...open });
    group.join("m");
    let ready = 0;
    group.onReady(() => (ready += 1));
    expect(await group.claim("m", 10)).toEqual([]);
    budget.release("unacked", 16 * KIB);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ready).toBeGreaterThan(0);
    expect((await group.claim("m", 10)).length).toBeGreaterThan(0);
    expect(budget.held()).toBeLessThanOrEqual(16 * KIB + 5 * KIB);
    await group.leave("m");
    await backend.close();
  });

  it("gives back the bytes of a dead-lettered delivery and of acked ones once each", async () => {
    const budget = new MemoryBudget(64 * 2 ** 20);
    const backend = await backendWith(budget, 3, 4 * KIB);
    const group = await backend.groups.open({ name: "dlq", ...open, settings: { maxDeliveries: 1 } });
    group.join("m");
    const [poison, ...rest] = await group.claim("m", 3);
    expect(rest).toHaveLength(2);
    expect(budget.held("unacked")).toBe(group.inFlightBytesOf("m"));
    await group.nack([poison?.deliveryId ?? ""], { reason: "poison" });
    expect(group.inFlightOf("m")).toBe(2);
    expect(budget.held("unacked")).toBe(group.inFlightBytesOf("m"));
    await group.ack(rest.map((d) => d.deliveryId));
    expect(group.inFlightOf("m")).toBe(0);
    expect(budget.held()).toBe(0);
    await group.leave("m");
    await backend.close();
  });
});
