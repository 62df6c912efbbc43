/**
 * The outcome recorder keeps the outcomes of the `capacity` most recently
 * delivered events and forgets older ones, oldest first, for as long as
 * the server runs (well past the first eviction).
 */
import { describe, expect, it } from "vitest";
import { OutcomeRecorder, StoredEvent } from "@protobus/server";

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
});
