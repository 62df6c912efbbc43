/**
 * The outcome recorder keeps the outcomes of the `capacity` most recently
 * delivered events and forgets older ones, oldest first, for as long as
 * the server runs (well past the first eviction).
 */
import { describe, expect, it } from "vitest";
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
});
