/**
 * The outcome recorder keeps the outcomes of the `capacity` most recently
 * delivered events and forgets older ones, oldest first, for as long as
 * the server runs (well past the first eviction).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { OutcomeRecorder, StoredEvent } from "@protobus/server";
import { OutcomeState } from "@protobus/sdk/proto";

const consumer = { group: "workers", subscriptionId: "s-1" };

function stored(sequence: number): StoredEvent {
  return new StoredEvent(BigInt(sequence), "agent.task.created", new Uint8Array(0), 0);
}

describe("OutcomeRecorder capacity", () => {
  it("keeps exactly the newest events after many rounds of eviction", () => {
    const capacity = 50;
    const recorder = new OutcomeRecorder(capacity);
    const total = capacity * 7 + 13;
    for (let seq = 1; seq <= total; seq++) {
      recorder.delivered(stored(seq), 1, consumer);
      // Settling an event already known adds nothing.
      if (seq % 3 === 0) recorder.acked(stored(seq), 1, consumer);
    }
    for (let seq = 1; seq <= total - capacity; seq++) expect(recorder.outcomes(BigInt(seq))).toEqual([]);
    for (let seq = total - capacity + 1; seq <= total; seq++) {
      const outcomes = recorder.outcomes(BigInt(seq));
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]?.group).toBe("workers");
    }
  });

  it("keeps one outcome per consumer of an event, and forgets an event once a sequence a capacity above it is delivered", () => {
    const recorder = new OutcomeRecorder(10);
    const broadcast = { group: "", subscriptionId: "s-2" };
    const otherGroup = { group: "auditors", subscriptionId: "s-3" };
    recorder.delivered(stored(5), 1, consumer);
    recorder.delivered(stored(5), 1, broadcast);
    recorder.delivered(stored(5), 1, otherGroup);
    recorder.acked(stored(5), 1, broadcast);
    recorder.nacked(stored(5), 1, consumer);
    recorder.delivered(stored(5), 2, { group: "workers", subscriptionId: "s-4" });
    const outcomes = recorder.outcomes(5n);
    expect(outcomes.map((o) => [o.group, o.subscriptionId, o.state, o.attempts, o.retries])).toEqual([
      ["workers", "s-4", OutcomeState.OUTCOME_STATE_DELIVERED, 2, 1],
      ["", "s-2", OutcomeState.OUTCOME_STATE_ACKED, 1, 0],
      ["auditors", "s-3", OutcomeState.OUTCOME_STATE_DELIVERED, 1, 0],
    ]);
    // Sequences below it that were never delivered, and sequences far above, are unknown.
    expect(recorder.outcomes(4n)).toEqual([]);
    expect(recorder.outcomes(15n)).toEqual([]);
    recorder.delivered(stored(14), 1, consumer);
    expect(recorder.outcomes(5n)).toHaveLength(3);
    recorder.delivered(stored(15), 1, consumer);
    expect(recorder.outcomes(5n)).toEqual([]);
    expect(recorder.outcomes(15n)).toHaveLength(1);
  });

  afterEach(() => vi.useRealTimers());

  it.each([1, 2, 3])("matches a plain model over random deliveries, acks, nacks and dead letters of several consumers (seed %i)", (seed) => {
    vi.useFakeTimers();
    const capacity = 16;
    const recorder = new OutcomeRecorder(capacity);
    interface ModelEntry {
      group: string;
      subscriptionId: string;
      state: OutcomeState;
      attempts: number;
      retries: number;
      first: number;
      updated: number;
    }
    // The model: per slot the sequence that holds it and its consumers' outcomes, in arrival order.
    const slots = new Map<number, { seq: number; byKey: Map<string, ModelEntry> }>();
    const consumers = [
      { group: "workers", subscriptionId: "s-1" },
      { group: "workers", subscriptionId: "s-2" },
      { group: "", subscriptionId: "s-3" },
      { group: "auditors", subscriptionId: "s-4" },
    ];
    const model = (seq: number, c: (typeof consumers)[number]): ModelEntry => {
      const now = Date.now();
      const key = c.group !== "" ? `g:${c.group}` : `s:${c.subscriptionId}`;
      let slot = slots.get(seq % capacity);
      if (slot?.seq !== seq) slots.set(seq % capacity, (slot = { seq, byKey: new Map() }));
      let entry = slot.byKey.get(key);
      if (entry === undefined) {
        entry = { group: c.group, subscriptionId: c.subscriptionId, state: OutcomeState.OUTCOME_STATE_DELIVERED, attempts: 0, retries: 0, first: now, updated: now };
        slot.byKey.set(key, entry);
      }
      entry.updated = now;
      return entry;
    };
    let x = seed;
    const random = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    let head = 1;
    for (let step = 0; step < 5_000; step++) {
      vi.advanceTimersByTime(random(3));
      if (random(4) === 0) head += 1;
      const seq = Math.max(1, head - random(capacity + 4));
      const c = consumers[random(consumers.length)] as (typeof consumers)[number];
      const attempt = 1 + random(3);
      const op = random(10);
      if (op < 5) {
        recorder.delivered(stored(seq), attempt, c);
        const e = model(seq, c);
        e.subscriptionId = c.subscriptionId;
        e.attempts = Math.max(e.attempts, attempt);
        e.retries = Math.max(e.retries, attempt - 1);
        if (e.state !== OutcomeState.OUTCOME_STATE_ACKED) e.state = OutcomeState.OUTCOME_STATE_DELIVERED;
      } else if (op < 8) {
        recorder.acked(stored(seq), attempt, c);
        const e = model(seq, c);
        e.subscriptionId = c.subscriptionId;
        e.state = OutcomeState.OUTCOME_STATE_ACKED;
      } else if (op < 9) {
        recorder.nacked(stored(seq), attempt, c);
        const e = model(seq, c);
        e.retries += 1;
        if (e.state !== OutcomeState.OUTCOME_STATE_ACKED) e.state = OutcomeState.OUTCOME_STATE_RETRYING;
      } else {
        recorder.deadLettered(stored(seq), attempt, c);
        const e = model(seq, c);
        e.state = OutcomeState.OUTCOME_STATE_DEAD_LETTERED;
        e.retries = Math.max(0, Math.min(e.retries, e.attempts - 1));
      }
      if (step % 50 === 0 || step === 4_999) {
        for (let s = Math.max(1, head - capacity - 8); s <= head; s++) {
          const slot = slots.get(s % capacity);
          const expected = slot?.seq === s ? [...slot.byKey.values()] : [];
          const got = recorder.outcomes(BigInt(s));
          expect(got.map((o) => [o.group, o.subscriptionId, o.state, o.attempts, o.retries, o.firstDeliveryTime?.getTime(), o.updateTime?.getTime()])).toEqual(
            expected.map((e) => [e.group, e.subscriptionId, e.state, e.attempts, e.retries, e.first, e.updated]),
          );
        }
      }
    }
  });
});
