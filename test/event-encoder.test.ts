/**
 * The publish path's hand-written envelope encoder writes the same bytes as
 * the generated `Event.encode`, for events with every field set, unset or
 * at its edges (non-ASCII and lone-surrogate text, empty repeated values,
 * attributes, 64-bit sequences, times before 1970), and a request framed
 * from them decodes as the generated `PublishRequest`.
 */
import { describe, expect, it } from "vitest";
import { Event, PublishRequest } from "@protobus/sdk/proto";
import { encodeEvent, encodePublishRequest } from "../sdk/src/event-encoder.js";

/** A small deterministic generator, so that a failure names its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const TEXTS = ["", "a", "agent.task.created", "ünïcødé ✓", "日本語のテキスト", "emoji 🚀 here", "\ud800 lone", "x".repeat(200), "y".repeat(20_000)];

function sample(next: () => number): Event {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
  const maybe = <T>(value: () => T, otherwise: T): T => (next() < 0.5 ? value() : otherwise);
  const time = (): Date => new Date(pick([0, 1, 999, 1_000, 1_700_000_000_123, 253_402_300_799_999, -1, -1_500, -86_400_000]));
  const attributes: Record<string, string> = {};
  const attributeCount = Math.floor(next() * 3);
  for (let i = 0; i < attributeCount; i++) attributes[pick(TEXTS) + i] = pick(TEXTS);
  return Event.fromPartial({
    id: pick(TEXTS),
    source: pick(TEXTS),
    type: pick(TEXTS),
    specVersion: pick(["", "1.0"]),
    ...(next() < 0.7 ? { time: time() } : {}),
    subject: pick(TEXTS),
    dataContentType: pick(["", "application/json", "application/protobuf"]),
    dataSchema: pick(TEXTS),
    data: maybe<Buffer>(() => Buffer.from(Array.from({ length: pick([1, 16, 127, 128, 300, 70_000]) }, (_, i) => (i * 7) % 256)), Buffer.alloc(0)),
    correlationId: pick(TEXTS),
    causationId: pick(TEXTS),
    ...(next() < 0.5 ? { priority: pick([0, 1, 4, 9, 127, 128, 2 ** 31]) } : {}),
    tags: Array.from({ length: Math.floor(next() * 4) }, () => pick(TEXTS)),
    ...(next() < 0.3 ? { expireTime: time() } : {}),
    orderingKey: pick(TEXTS),
    traceparent: pick(["", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]),
    tracestate: pick(["", "vendor=value"]),
    attributes,
    sequence: pick([0n, 1n, 127n, 128n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 64n - 1n]),
    ...(next() < 0.3 ? { publishTime: time() } : {}),
    schemaVersion: pick([0, 1, 300, 2 ** 32 - 1]),
  });
}

describe("the publish path's envelope encoder", () => {
  it("writes the generated encoder's bytes for 5,000 varied events", () => {
    const next = random(20261206);
    for (let i = 0; i < 5_000; i++) {
      const event = sample(next);
      const expected = Buffer.from(Event.encode(event).finish());
      const actual = Buffer.from(encodeEvent(event));
      if (!actual.equals(expected)) {
        // Field by field first, for a readable failure.
        expect(Event.decode(actual), `event ${i}`).toEqual(Event.decode(expected));
        expect(actual.toString("hex"), `event ${i}`).toBe(expected.toString("hex"));
      }
    }
  });

  it("frames encoded envelopes as a PublishRequest that decodes to the same events", () => {
    const next = random(7);
    const events = Array.from({ length: 50 }, () => sample(next));
    const request = encodePublishRequest(events.map(encodeEvent));
    expect(request.equals(Buffer.from(PublishRequest.encode({ events }).finish()))).toBe(true);
    expect(PublishRequest.decode(request).events).toEqual(events.map((e) => Event.decode(Event.encode(e).finish())));
    expect(encodePublishRequest([]).length).toBe(0);
  });
});
