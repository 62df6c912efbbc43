/**
 * A stored event's priority and ordering key, which consumer groups order
 * by, read from the encoded envelope without a full decode, agree with the
 * decoded envelope for every shape of event.
 */
import { describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { StoredEvent } from "@protobus/server";

const BASE = Event.fromPartial({
  id: "e-1",
  type: "agent.task.created",
  source: "test/stored-event",
  sequence: 42n,
  data: Buffer.alloc(300, 7),
  dataContentType: "application/octet-stream",
  attributes: { tenant: "acme", region: "eu" },
  tags: ["a", "b"],
  expireTime: new Date(Date.UTC(2030, 0, 1)),
  publishTime: new Date(Date.UTC(2026, 0, 1)),
});

const CASES: Array<{ name: string; event: Event }> = [
  { name: "no priority, no key", event: BASE },
  { name: "priority 0 (explicitly the highest)", event: { ...BASE, priority: 0 } },
  { name: "priority 9 with a key", event: { ...BASE, priority: 9, orderingKey: "customer-17" } },
  { name: "key only, non-ASCII", event: { ...BASE, orderingKey: "kunde-ü-42" } },
  { name: "bare minimum", event: Event.fromPartial({ id: "x", type: "a.b", sequence: 1n, priority: 2 }) },
];

describe("StoredEvent priority and ordering key", () => {
  for (const { name, event } of CASES) {
    it(`reads them off the bytes like the decoder does: ${name}`, () => {
      const bytes = Event.encode(event).finish();
      const decoded = Event.decode(bytes);
      const stored = new StoredEvent(event.sequence, event.type, bytes, 0);
      expect(stored.priority).toBe(decoded.priority ?? 4);
      expect(stored.orderingKey).toBe(decoded.orderingKey);
      // The rest of the envelope still decodes in full afterwards.
      expect(stored.event).toEqual(decoded);
    });

    it(`takes them from the decoded event when there is one: ${name}`, () => {
      const stored = StoredEvent.fromEvent(event);
      expect(stored.priority).toBe(event.priority ?? 4);
      expect(stored.orderingKey).toBe(event.orderingKey);
    });

    it(`takes them from the input the backend had at hand: ${name}`, () => {
      const bytes = Event.encode(event).finish();
      const stored = new StoredEvent(event.sequence, event.type, bytes, 0, undefined, event);
      expect(stored.priority).toBe(event.priority ?? 4);
      expect(stored.orderingKey).toBe(event.orderingKey);
    });
  }
});
