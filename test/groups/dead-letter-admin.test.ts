/**
 * A group's dead-letter queue on its own, over the in-memory persistence and
 * a small event log: listing with the events, redrive (taken out and
 * recorded as retries due now, in one step), purge, and a dead letter whose
 * event left the log.
 */
import { describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { DEFAULT_GROUP_SETTINGS } from "../../server/src/storage/group-store.js";
import { StoredEvent } from "../../server/src/storage/stored-event.js";
import { DeadLetterAdmin } from "../../server/src/storage/groups/dead-letter-admin.js";
import type { EventSource } from "../../server/src/storage/groups/event-source.js";
import { zeroCounters } from "../../server/src/storage/groups/group-persistence.js";
import { MemoryGroupPersistence } from "../../server/src/storage/groups/memory-group-persistence.js";

/** An event log of `count` events, of which `missing` sequences are gone. */
function testLog(count: number, missing: readonly number[] = []): EventSource {
  const events = new Map<number, StoredEvent>();
  for (let seq = 1; seq <= count; seq++) {
    if (missing.includes(seq)) continue;
    events.set(seq, StoredEvent.fromEvent(Event.fromPartial({ id: `e${seq}`, type: seq % 2 === 0 ? "job.even" : "job.odd", sequence: BigInt(seq) })));
  }
  return {
    read: () => Promise.reject(new Error("not used")),
    readSequences: (sequences) => Promise.resolve(sequences.flatMap((s) => events.get(s) ?? [])),
    headSequence: () => Promise.resolve(BigInt(count)),
    countAfter: () => Promise.resolve(0),
    onAppend: () => () => undefined,
  };
}

function setUp(missing: readonly number[] = []): { admin: DeadLetterAdmin; persistence: MemoryGroupPersistence } {
  const persistence = new MemoryGroupPersistence();
  persistence.create({ name: "g", patterns: ["job.*"], filter: "", settings: DEFAULT_GROUP_SETTINGS, createdAt: new Date(0) }, 0);
  persistence.commit("g", {
    floor: 0,
    settled: [],
    retries: [],
    clearedRetries: [],
    dead: [1, 2, 3, 4].map((sequence) => ({ sequence, attempts: 5, reason: "handler failed", deadAt: 1000 + sequence })),
    counters: zeroCounters(),
  });
  return { admin: new DeadLetterAdmin(persistence, testLog(4, missing), "g"), persistence };
}

const position = { floor: 0, counters: zeroCounters() };

describe("DeadLetterAdmin", () => {
  it("lists dead letters with their events, filtered by pattern and paged by sequence", async () => {
    const { admin } = setUp();
    const all = await admin.list({ afterSequence: 0n, limit: 10 });
    expect(all.map((d) => [Number(d.stored.sequence), d.attempts, d.reason, d.deadAt.getTime()])).toEqual([
      [1, 5, "handler failed", 1001],
      [2, 5, "handler failed", 1002],
      [3, 5, "handler failed", 1003],
      [4, 5, "handler failed", 1004],
    ]);
    const even = await admin.list({ afterSequence: 2n, limit: 10, patterns: ["job.even"] });
    expect(even.map((d) => Number(d.stored.sequence))).toEqual([4]);
  });

  it("redrives selected dead letters as retries due now and leaves the rest", async () => {
    const { admin, persistence } = setUp();
    const { taken, events } = await admin.redrive({ sequences: [2n, 3n] }, position);
    expect(taken).toBe(2);
    expect(events.map((e) => Number(e.sequence))).toEqual([2, 3]);
    const [group] = persistence.loadAll();
    expect(group?.retries).toEqual([
      { sequence: 2, attempts: 0, dueAt: 0, reason: "redriven" },
      { sequence: 3, attempts: 0, dueAt: 0, reason: "redriven" },
    ]);
    expect(persistence.listDead("g", 0, 10).map((d) => d.sequence)).toEqual([1, 4]);
  });

  it("counts a dead letter whose event left the log as taken, with no event to deliver", async () => {
    const { admin } = setUp([3]);
    const { taken, events } = await admin.redrive({ all: true }, position);
    expect(taken).toBe(4);
    expect(events.map((e) => Number(e.sequence))).toEqual([1, 2, 4]);
  });

  it("purges selected or all dead letters", async () => {
    const { admin, persistence } = setUp();
    expect(admin.purge({ sequences: [1n] })).toBe(1);
    expect(admin.purge({ all: true })).toBe(3);
    expect(persistence.countDead("g")).toBe(0);
    expect(await admin.list({ afterSequence: 0n, limit: 10 })).toEqual([]);
  });
});
