/**
 * Backend conformance: appending, reading, querying and notifying, the same
 * for every backend.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { compilePatterns, newEventId } from "@protobus/sdk/internal";
import { Event } from "@protobus/sdk/proto";
import type { StorageBackend } from "@protobus/server";
import { BACKENDS, disposeSharedNats, type OpenedBackend } from "./backends.js";

afterAll(() => disposeSharedNats());

function event(type: string, extra: Partial<Event> = {}): Event {
  return Event.fromPartial({ id: `${type}-${Math.random().toString(36).slice(2)}`, source: "test", type, specVersion: "1.0", priority: 4, ...extra });
}

describe.each(BACKENDS)("$kind backend", (harness) => {
  let opened: OpenedBackend;
  let store: StorageBackend;
  beforeEach(async () => {
    opened = await harness.open();
    store = opened.backend;
  });
  afterEach(() => opened.dispose());

  it("assigns increasing sequences and publish times, one result per event", async () => {
    const results = await store.append([event("a.b"), event("a.c"), event("a.d")], { dedupeWindowMs: 0 });
    expect(results.map((r) => r.sequence)).toEqual([1n, 2n, 3n]);
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(await store.headSequence()).toBe(3n);
    const more = await store.append([event("a.e")], { dedupeWindowMs: 0 });
    expect(more[0]?.sequence).toBe(4n);
    const stored = await store.getEvent(results[0]?.id ?? "");
    expect(stored?.event.publishTime).toBeInstanceOf(Date);
    expect(stored?.event.sequence).toBe(1n);
  });

  it("deduplicates ids within the window, in and across batches", async () => {
    const first = event("a.b", { id: "dup-1" });
    const results = await store.append([first, event("a.c", { id: "dup-1" })], { dedupeWindowMs: 60_000 });
    expect(results).toEqual([
      { id: "dup-1", sequence: 1n, duplicate: false },
      { id: "dup-1", sequence: 1n, duplicate: true },
    ]);
    const again = await store.append([event("a.b", { id: "dup-1" })], { dedupeWindowMs: 60_000 });
    expect(again[0]).toEqual({ id: "dup-1", sequence: 1n, duplicate: true });
    expect(await store.headSequence()).toBe(1n);
    const off = await store.append([event("a.b", { id: "dup-1" })], { dedupeWindowMs: 0 });
    expect(off[0]?.duplicate).toBe(false);
  });

  it("finds events by server-assigned ids, also assigned out of order, and deduplicates a later publish of one", async () => {
    const early = newEventId();
    const a = newEventId();
    const b = newEventId();
    const c = newEventId();
    const assigned = { dedupeWindowMs: 60_000, assignedIds: [true, true] };
    const first = await store.append([event("a.b", { id: a }), event("a.c", { id: b })], assigned);
    // An id generated before the ones already stored (publishes completed in another order).
    const second = await store.append([event("a.d", { id: early }), event("a.e", { id: c })], assigned);
    const sequences = [...first, ...second].map((r) => r.sequence);
    expect(sequences).toEqual([1n, 2n, 3n, 4n]);
    for (const [id, sequence] of [[a, 1n], [b, 2n], [early, 3n], [c, 4n]] as const) {
      expect((await store.getEvent(id))?.sequence).toBe(sequence);
    }
    expect(await store.getEvent(newEventId())).toBeUndefined();
    // A publisher sending an id the server assigned: a duplicate within the window ...
    const again = await store.append([event("a.b", { id: b }), event("a.d", { id: early })], { dedupeWindowMs: 60_000 });
    expect(again).toEqual([
      { id: b, sequence: 2n, duplicate: true },
      { id: early, sequence: 3n, duplicate: true },
    ]);
    // ... and stored again without one, after which the id names the newer event.
    const off = await store.append([event("a.b", { id: a })], { dedupeWindowMs: 0 });
    expect(off[0]).toEqual({ id: a, sequence: 5n, duplicate: false });
    expect((await store.getEvent(a))?.sequence).toBe(5n);
  });

  it("reads after a sequence with a pattern, reporting how far it scanned", async () => {
    await store.append(
      [event("agent.task.created"), event("agent.tool.invoked"), event("agent.task.done"), event("other.thing")],
      { dedupeWindowMs: 0 },
    );
    const all = await store.read({ afterSequence: 0n, limit: 10 });
    expect(all.events.map((e) => e.sequence)).toEqual([1n, 2n, 3n, 4n]);
    const tasks = await store.read({ afterSequence: 0n, limit: 10, matcher: compilePatterns(["agent.task.*"]) });
    expect(tasks.events.map((e) => e.type)).toEqual(["agent.task.created", "agent.task.done"]);
    expect(tasks.scannedTo).toBe(4n);
    const limited = await store.read({ afterSequence: 1n, limit: 1, matcher: compilePatterns(["agent.>"]) });
    expect(limited.events.map((e) => e.sequence)).toEqual([2n]);
    expect(limited.scannedTo).toBe(2n);
    const none = await store.read({ afterSequence: 4n, limit: 10 });
    expect(none.events).toEqual([]);
    expect(none.scannedTo).toBe(4n);
  });

  it("pages through a large log, sparse matches included, after a restart (reads from the store itself)", async () => {
    // 6,000 events, every 250th of the type matched below: pages of any
    // limit must return every match once, in order, and no other event.
    const types = Array.from({ length: 6_000 }, (_, i) => (i % 250 === 0 ? "page.match" : "page.other"));
    for (let i = 0; i < types.length; i += 500) {
      await store.append(types.slice(i, i + 500).map((type) => event(type)), { dedupeWindowMs: 0 });
    }
    if (harness.durable) store = await opened.reopen();
    const collect = async (limit: number, patterns?: string[]) => {
      const seen: bigint[] = [];
      let after = 0n;
      for (let pages = 0; after < 6_000n; pages++) {
        expect(pages).toBeLessThan(10_000);
        const page = await store.read({ afterSequence: after, limit, ...(patterns ? { matcher: compilePatterns(patterns) } : {}) });
        expect(page.events.length).toBeLessThanOrEqual(limit);
        expect(page.scannedTo).toBeGreaterThanOrEqual(page.events.at(-1)?.sequence ?? after);
        seen.push(...page.events.map((e) => e.sequence));
        if (page.scannedTo === after) break;
        after = page.scannedTo;
      }
      return seen;
    };
    const matches = types.flatMap((type, i) => (type === "page.match" ? [BigInt(i + 1)] : []));
    expect(await collect(7, ["page.match"])).toEqual(matches);
    expect(await collect(1_024, ["page.match"])).toEqual(matches);
    const everything = types.map((_, i) => BigInt(i + 1));
    expect(await collect(1_024, ["page.>"])).toEqual(everything);
    expect(await collect(333)).toEqual(everything);
  });

  it("pages through large events, each returned once and whole", async () => {
    // 24 events of 700 KiB (16.8 MB): a store may return them a few per read.
    for (let i = 0; i < 24; i += 4) {
      await store.append(
        Array.from({ length: 4 }, (_, j) => event("large.blob", { data: Buffer.alloc(700 * 1024, 65 + ((i + j) % 26)) })),
        { dedupeWindowMs: 0 },
      );
    }
    if (harness.durable) store = await opened.reopen();
    const seen: Event[] = [];
    let after = 0n;
    for (let pages = 0; after < 24n && pages < 100; pages++) {
      const page = await store.read({ afterSequence: after, limit: 1_024 });
      if (pages === 0 && harness.kind === "sqlite") expect(page.events.length).toBeLessThan(24);
      seen.push(...page.events.map((e) => e.event));
      after = page.scannedTo;
    }
    expect(seen.map((e) => e.sequence)).toEqual(Array.from({ length: 24 }, (_, i) => BigInt(i + 1)));
    expect(seen.every((e, i) => e.data.byteLength === 700 * 1024 && e.data[0] === 65 + (i % 26) && e.data.at(-1) === 65 + (i % 26))).toBe(true);
  });

  it("queries by pattern, source, correlation id, tags, time and sequence", async () => {
    await store.append(
      [
        event("agent.task.created", { source: "planner", correlationId: "c1", tags: ["x", "y"] }),
        event("agent.task.done", { source: "worker", correlationId: "c1", tags: ["x"] }),
        event("agent.tool.invoked", { source: "worker", correlationId: "c2", tags: ["y"] }),
      ],
      { dedupeWindowMs: 0 },
    );
    const q = (extra: object) => store.query({ fromSequence: 1n, limit: 100, ...extra }).then((r) => r.events.map((e) => e.sequence));
    expect(await q({ matcher: compilePatterns(["agent.task.*"]) })).toEqual([1n, 2n]);
    expect(await q({ matcher: compilePatterns(["agent.tool.invoked"]) })).toEqual([3n]);
    expect(await q({ source: "worker" })).toEqual([2n, 3n]);
    expect(await q({ correlationId: "c1" })).toEqual([1n, 2n]);
    expect(await q({ tags: ["x", "y"] })).toEqual([1n]);
    expect(await q({ tags: ["y"] })).toEqual([1n, 3n]);
    expect(await q({ fromSequence: 2n })).toEqual([2n, 3n]);
    expect(await q({ limit: 2 })).toEqual([1n, 2n]);
    expect(await q({ fromTime: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await q({ toTime: new Date(Date.now() + 60_000) })).toEqual([1n, 2n, 3n]);
  });

  it("looks at no more than scanLimit events per query and says where it stopped", async () => {
    await store.append(
      Array.from({ length: 10 }, (_, i) => event(i === 7 ? "scan.hit.found" : "scan.miss.found")),
      { dedupeWindowMs: 0 },
    );
    const matcher = compilePatterns(["scan.hit.*"]);
    // A store that filters by type before looking (JetStream's subject filter) may get there at once;
    // one that looks at every event stops after four.
    const first = await store.query({ fromSequence: 1n, limit: 10, matcher, scanLimit: 4 });
    if (!first.complete) {
      expect(first.events).toEqual([]);
      expect(first.scannedTo).toBe(4n);
    }
    // Going on from where it stopped finds the match, and the end.
    const found: bigint[] = [];
    let from = 1n;
    for (let calls = 0; calls < 10; calls++) {
      const page = await store.query({ fromSequence: from, limit: 10, matcher, scanLimit: 4 });
      found.push(...page.events.map((e) => e.sequence));
      if (page.complete) break;
      from = page.scannedTo + 1n;
    }
    expect(found).toEqual([8n]);
  });

  it("finds the first sequence at or after a time", async () => {
    const before = new Date(Date.now() - 1000);
    await store.append([event("a.b"), event("a.c")], { dedupeWindowMs: 0 });
    expect(await store.sequenceAtTime(before)).toBe(1n);
    expect(await store.sequenceAtTime(new Date(Date.now() + 60_000))).toBe(3n);
  });

  it("finds sequences by time and bounds queries by time, across appends made at different instants", async () => {
    for (let i = 0; i < 6; i++) {
      await store.append([event(i % 2 === 0 ? "t.even" : "t.odd"), event("t.other")], { dedupeWindowMs: 0 });
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
    const all = (await store.query({ fromSequence: 1n, limit: 100 })).events;
    expect(all.map((e) => e.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 12n]);
    const times = all.map((e) => e.event.publishTime?.getTime() ?? Number.NaN);
    // Never backwards along the sequence.
    times.forEach((t, i) => expect(t).toBeGreaterThanOrEqual(times[i - 1] ?? t));
    const probes = [...new Set(times.flatMap((t) => [t - 1, t, t + 1]))];
    for (const t of probes) {
      const first = times.findIndex((published) => published >= t);
      expect(await store.sequenceAtTime(new Date(t))).toBe(first === -1 ? 13n : BigInt(first + 1));
    }
    const seqs = (query: object) => store.query({ fromSequence: 1n, limit: 100, ...query }).then((page) => page.events.map((e) => Number(e.sequence)));
    const expected = (from: number, to: number, type?: string) =>
      all.filter((e, i) => (times[i] as number) >= from && (times[i] as number) < to && (type === undefined || e.type === type)).map((e) => Number(e.sequence));
    const lo = times[4] as number;
    const hi = times[9] as number;
    expect(await seqs({ fromTime: new Date(lo) })).toEqual(expected(lo, Infinity));
    expect(await seqs({ toTime: new Date(hi) })).toEqual(expected(-Infinity, hi));
    expect(await seqs({ fromTime: new Date(lo), toTime: new Date(hi) })).toEqual(expected(lo, hi));
    expect(await seqs({ fromTime: new Date(lo), toTime: new Date(hi), matcher: compilePatterns(["t.even"]) })).toEqual(expected(lo, hi, "t.even"));
    expect(await seqs({ fromTime: new Date(hi), toTime: new Date(lo) })).toEqual([]);
    // Paged with a scan limit, the pages together hold the same events.
    const paged: number[] = [];
    let from = 1n;
    for (let calls = 0; calls < 20; calls++) {
      const page = await store.query({ fromSequence: from, limit: 100, fromTime: new Date(lo), toTime: new Date(hi), scanLimit: 3 });
      paged.push(...page.events.map((e) => Number(e.sequence)));
      if (page.complete) break;
      from = page.scannedTo + 1n;
    }
    expect(paged).toEqual(expected(lo, hi));
  });

  it("tells listeners the new head after each append", async () => {
    const heads: bigint[] = [];
    const off = store.onAppend((head) => heads.push(head));
    await store.append([event("a.b"), event("a.c")], { dedupeWindowMs: 0 });
    await store.append([event("a.d")], { dedupeWindowMs: 0 });
    off();
    await store.append([event("a.e")], { dedupeWindowMs: 0 });
    expect(heads).toEqual([2n, 3n]);
  });

  // Only durable backends promise this; the memory backend has no such test.
  if (harness.durable) it("keeps every appended event across a reopen", async () => {
    const results = await store.append([event("a.b", { id: "keep-1" }), event("a.c", { id: "keep-2" })], { dedupeWindowMs: 60_000 });
    store = await opened.reopen();
    expect(await store.headSequence()).toBe(2n);
    expect((await store.getEvent("keep-2"))?.sequence).toBe(results[1]?.sequence);
    // The dedupe window survives the restart too.
    const again = await store.append([event("a.b", { id: "keep-1" })], { dedupeWindowMs: 60_000 });
    expect(again[0]).toEqual({ id: "keep-1", sequence: 1n, duplicate: true });
    // Stored once: the log holds the original only.
    const { events } = await store.read({ afterSequence: 0n, limit: 10 });
    expect(events.map((e) => e.event.id)).toEqual(["keep-1", "keep-2"]);
    const next = await store.append([event("a.d")], { dedupeWindowMs: 0 });
    expect(next[0]?.sequence).toBe(3n);
  });
});
