/**
 * A stored event's priority and ordering key, which consumer groups order
 * by, read from the encoded envelope without a full decode, agree with the
 * decoded envelope for every shape of event. The envelopes of one append,
 * encoded into one shared buffer, are byte for byte what encoding each
 * alone gives.
 */
import { describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { StoredEvent, encodeEnvelopes } from "@protobus/server";

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

describe("encodeEnvelopes", () => {
  // Lengths whose prefixes take one, two and three bytes, an empty event,
  // every case above, and a payload large enough to get a buffer of its own.
  const sizes = [0, 1, 100, 127, 128, 300, 16_383, 16_384, 40_000];
  const events: Event[] = [
    ...sizes.map((size, i) => ({ ...BASE, id: `e-${i}`, sequence: BigInt(i + 1), data: Buffer.alloc(size, i) })),
    Event.fromPartial({}),
    ...CASES.map((c) => c.event),
  ];

  it("gives each event of a batch exactly the bytes it encodes to alone, as views of one buffer", () => {
    const encoded = encodeEnvelopes(events);
    expect(encoded).toHaveLength(events.length);
    encoded.forEach((bytes, i) => {
      expect(Buffer.from(bytes).equals(Buffer.from(Event.encode(events[i] as Event).finish()))).toBe(true);
      expect(Event.decode(bytes)).toEqual(Event.decode(Event.encode(events[i] as Event).finish()));
    });
    expect(new Set(encoded.map((bytes) => bytes.buffer)).size).toBe(1);
  });

  it("gives every event a buffer of its own when one carries a large payload", () => {
    const withLarge = [...events, { ...BASE, id: "large", data: Buffer.alloc(70_000, 1) }];
    const encoded = encodeEnvelopes(withLarge);
    encoded.forEach((bytes, i) => expect(Buffer.from(bytes).equals(Buffer.from(Event.encode(withLarge[i] as Event).finish()))).toBe(true));
    expect(new Set(encoded.map((bytes) => bytes.buffer)).size).toBe(withLarge.length);
  });
});
