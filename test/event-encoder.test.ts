/**
 * The publish path's hand-written envelope encoder writes the same bytes as
 * the generated `Event.encode`, for events with every field set, unset or
 * at its edges (non-ASCII and lone-surrogate text, empty repeated values,
 * attributes, 64-bit sequences, times before 1970), and a request framed
 * from them decodes as the generated `PublishRequest`. The envelope decoder
 * the server reads published events with gives the generated decoder's
 * objects for the same events, and for damaged bytes either the same object
 * or the same error.
 */
import { describe, expect, it } from "vitest";
import { Event, PublishRequest } from "@protobus/sdk/proto";
import { encodeEvent, encodePublishRequest } from "../sdk/src/event-encoder.js";
import { envelopeDecoder } from "../sdk/src/subscribe-codec.js";

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

  it("decodes envelopes as the generated decoder does, damaged ones included", () => {
    const next = random(99);
    const decode = envelopeDecoder();
    // An event as a comparable value: its fields' names, its payload's type, and its bytes (deep equality
    // of 70 KB payloads and 20,000-character strings is slow; the bytes tell every value apart).
    const shape = (event: Event): string =>
      `${Object.keys(event).join()} ${event.data.constructor.name} ${String(event.priority)} ${Buffer.from(Event.encode(event).finish()).toString("base64")}`;
    const outcome = (run: () => Event): string => {
      try {
        return shape(run());
      } catch (error) {
        return `error ${String(error)}`;
      }
    };
    for (let i = 0; i < 2_000; i++) {
      const bytes = Buffer.from(Event.encode(sample(next)).finish());
      // In the middle of a larger buffer, as in a request.
      const framed = Buffer.concat([Buffer.from([1, 2, 3]), bytes, Buffer.from([4, 5])]);
      expect(shape(decode(framed, 3, 3 + bytes.length)), `event ${i}`).toBe(shape(Event.decode(bytes)));
      // A damaged copy: one byte changed, or cut short.
      const damaged = Buffer.from(bytes);
      if (damaged.length > 0) {
        if (next() < 0.5) damaged[Math.floor(next() * damaged.length)] = Math.floor(next() * 256);
      }
      const cut = next() < 0.3 ? damaged.subarray(0, Math.floor(next() * damaged.length)) : damaged;
      const expected = outcome(() => Event.decode(cut));
      const actual = outcome(() => decode(Buffer.from(cut), 0, cut.length));
      expect(actual === expected, `damaged event ${i}`).toBe(true);
    }
  });
});
