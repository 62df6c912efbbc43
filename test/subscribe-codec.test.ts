/**
 * The subscription stream's own codecs give exactly what the generated
 * codecs give: the same `SubscribeResponse` objects for every shape of
 * delivery (the fast path, and the events and messages it leaves to the
 * generated decoder), the same errors for broken messages, and the same
 * request bytes.
 */
import { describe, expect, it } from "vitest";
import { Event, SubscribeRequest, SubscribeResponse } from "@protobus/sdk/proto";
import { decodeSubscribeRequest, encodeSubscribeRequest, subscribeResponseDecoder } from "@protobus/sdk/internal";

const BASE = Event.fromPartial({
  id: "0193a8c0-1234-7abc-8def-0123456789ab",
  type: "bench.event.created",
  source: "bench/loadgen",
  specVersion: "1.0",
  dataContentType: "application/octet-stream",
  data: Buffer.alloc(128, 7),
  sequence: 42n,
  publishTime: new Date(Date.UTC(2026, 11, 6, 3, 4, 5, 678)),
  priority: 4,
});

const EVENTS: Array<{ name: string; event: Event }> = [
  { name: "the bench's shape", event: BASE },
  { name: "bare minimum", event: Event.fromPartial({ id: "x", type: "a.b" }) },
  { name: "empty payload, priority 0", event: { ...BASE, data: Buffer.alloc(0), priority: 0 } },
  {
    name: "every field but attributes",
    event: {
      ...BASE,
      time: new Date(Date.UTC(2020, 1, 2, 3, 4, 5, 6)),
      subject: "agent-7",
      dataSchema: "https://example.test/schema",
      correlationId: "flow-1",
      causationId: "cause-1",
      priority: 9,
      tags: ["a", "b", "c"],
      expireTime: new Date(Date.UTC(2030, 0, 1)),
      orderingKey: "customer-17",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: "congo=t61rcWkgMzE",
      sequence: 2n ** 40n + 3n,
      schemaVersion: 3,
    },
  },
  { name: "non-ASCII strings", event: { ...BASE, subject: "kunde-ü-42", orderingKey: "ключ", source: "agent/π", type: "bench.event.created", tags: ["日本"] } },
  { name: "attributes (left to the generated decoder)", event: { ...BASE, attributes: { tenant: "acme", role: "planner" } } },
  { name: "a sequence past 2^49 (left to the generated decoder)", event: { ...BASE, sequence: 2n ** 60n + 1n } },
  { name: "a time before 1970 (left to the generated decoder)", event: { ...BASE, time: new Date(Date.UTC(1960, 0, 1, 0, 0, 0, 5)) } },
  { name: "a large payload", event: { ...BASE, data: Buffer.alloc(70_000, 3) } },
];

function batch(events: readonly Event[], attempt = 1): Uint8Array {
  return SubscribeResponse.encode({
    response: {
      $case: "batch",
      batch: { deliveries: events.map((event, i) => ({ event, deliveryId: `${event.sequence + BigInt(i)}.${attempt}`, attempt })) },
    },
  }).finish();
}

/** The bytes as grpc-js hands them to a deserializer: a Buffer. */
const received = (bytes: Uint8Array): Buffer => Buffer.from(bytes);

describe("subscribeResponseDecoder", () => {
  for (const { name, event } of EVENTS) {
    it(`decodes a delivery like the generated codec: ${name}`, () => {
      const decode = subscribeResponseDecoder();
      const bytes = SubscribeResponse.encode({ response: { $case: "delivery", delivery: { event, deliveryId: "42.3", attempt: 3 } } }).finish();
      expect(decode(received(bytes))).toEqual(SubscribeResponse.decode(bytes));
    });
  }

  it("decodes a batch of every shape like the generated codec, twice (the repeated strings are reused)", () => {
    const decode = subscribeResponseDecoder();
    const bytes = batch(EVENTS.map((c) => c.event));
    const expected = SubscribeResponse.decode(bytes);
    expect(decode(received(bytes))).toEqual(expected);
    const again = decode(received(bytes));
    expect(again).toEqual(expected);
    // Each event has a payload buffer of its own, not a view of the received message.
    const deliveries = again.response?.$case === "batch" ? again.response.batch.deliveries : [];
    expect(deliveries).toHaveLength(EVENTS.length);
    for (const delivery of deliveries) expect(delivery.event?.data.buffer.byteLength).not.toBe(bytes.byteLength);
  });

  it("gives a repeated string's value even after the field changed in between", () => {
    const decode = subscribeResponseDecoder();
    const events = ["a.b", "a.b", "a.c", "a.b", "a.bc", "a.b"].map((type, i) => ({ ...BASE, type, sequence: BigInt(i + 1) }));
    const bytes = batch(events);
    expect(decode(received(bytes))).toEqual(SubscribeResponse.decode(bytes));
  });

  it("decodes the other responses like the generated codec", () => {
    const decode = subscribeResponseDecoder();
    const responses: SubscribeResponse[] = [
      { response: { $case: "opened", opened: { subscriptionId: "s-1", headSequence: 12n } } },
      { response: { $case: "heartbeat", heartbeat: { time: new Date(Date.UTC(2026, 0, 1)), inFlight: 3 } } },
      { response: { $case: "acked", acked: { deliveryIds: ["1.1", "2.1"] } } },
      { response: undefined },
    ];
    for (const response of responses) {
      const bytes = SubscribeResponse.encode(response).finish();
      expect(decode(received(bytes))).toEqual(SubscribeResponse.decode(bytes));
    }
  });

  it("leaves messages with unknown fields to the generated codec, which skips them", () => {
    const decode = subscribeResponseDecoder();
    const delivery = SubscribeResponse.encode({ response: { $case: "delivery", delivery: { event: BASE, deliveryId: "1.1", attempt: 1 } } }).finish();
    // An unknown field 99 (varint) after the delivery field, and inside an event.
    const withUnknown = Buffer.concat([delivery, Buffer.from([0x98, 0x06, 0x01])]);
    expect(decode(withUnknown)).toEqual(SubscribeResponse.decode(withUnknown));
    const event = Buffer.concat([Event.encode(BASE).finish(), Buffer.from([0x98, 0x06, 0x05])]);
    const inner = SubscribeResponse.encode({ response: { $case: "batch", batch: { deliveries: [{ event: Event.decode(event), deliveryId: "1.1", attempt: 1 }] } } }).finish();
    expect(decode(received(inner))).toEqual(SubscribeResponse.decode(inner));
  });

  it("fails on a truncated message as the generated codec does", () => {
    const decode = subscribeResponseDecoder();
    const bytes = batch([BASE, BASE]);
    const truncated = received(bytes.subarray(0, bytes.length - 10));
    expect(() => SubscribeResponse.decode(truncated)).toThrow();
    expect(() => decode(truncated)).toThrow();
  });
});

describe("encodeSubscribeRequest and decodeSubscribeRequest", () => {
  const requests: Array<{ name: string; request: SubscribeRequest }> = [
    { name: "an ack", request: { request: { $case: "ack", ack: { deliveryIds: ["1.1", "123456789.2", "7.12"], confirm: false } } } },
    { name: "a confirmed ack", request: { request: { $case: "ack", ack: { deliveryIds: ["1.1"], confirm: true } } } },
    { name: "an empty ack", request: { request: { $case: "ack", ack: { deliveryIds: [], confirm: false } } } },
    {
      name: "an ack of 1,000 ids (a length of two bytes)",
      request: { request: { $case: "ack", ack: { deliveryIds: Array.from({ length: 1000 }, (_, i) => `${i + 1}.1`), confirm: false } } },
    },
    { name: "an ack of a non-ASCII id", request: { request: { $case: "ack", ack: { deliveryIds: ["1.1", "ü.1"], confirm: false } } } },
    { name: "a nack", request: { request: { $case: "nack", nack: { deliveryIds: ["1.1"], delay: undefined, reason: "boom" } } } },
    { name: "a credit", request: { request: { $case: "credit", credit: { count: 5 } } } },
  ];
  for (const { name, request } of requests) {
    it(`writes the generated codec's bytes: ${name}`, () => {
      const bytes = encodeSubscribeRequest(request);
      expect(Buffer.isBuffer(bytes)).toBe(true);
      expect(bytes.equals(Buffer.from(SubscribeRequest.encode(request).finish()))).toBe(true);
      expect(SubscribeRequest.decode(bytes)).toEqual(request);
    });

    it(`reads what the generated codec reads: ${name}`, () => {
      const bytes = Buffer.from(SubscribeRequest.encode(request).finish());
      expect(decodeSubscribeRequest(bytes)).toEqual(SubscribeRequest.decode(bytes));
    });
  }

  it("reads an ack with an unknown field, a repeated confirm or a wide bool like the generated codec", () => {
    const ack = Buffer.from(SubscribeRequest.encode({ request: { $case: "ack", ack: { deliveryIds: ["1.1", "2.1"], confirm: false } } }).finish());
    const shapes = [
      // Unknown field 9 (varint) inside the ack: its length grows by two.
      Buffer.concat([Buffer.from([ack[0] as number, (ack[1] as number) + 2]), ack.subarray(2), Buffer.from([0x48, 0x01])]),
      // confirm = true, then false again (last one wins).
      Buffer.concat([Buffer.from([ack[0] as number, (ack[1] as number) + 4]), ack.subarray(2), Buffer.from([0x10, 0x01, 0x10, 0x00])]),
      // confirm written as a two-byte varint.
      Buffer.concat([Buffer.from([ack[0] as number, (ack[1] as number) + 3]), ack.subarray(2), Buffer.from([0x10, 0x80, 0x01])]),
      // A second top-level field after the ack (a credit): the oneof's last one wins.
      Buffer.concat([ack, Buffer.from(SubscribeRequest.encode({ request: { $case: "credit", credit: { count: 3 } } }).finish())]),
    ];
    for (const bytes of shapes) expect(decodeSubscribeRequest(bytes)).toEqual(SubscribeRequest.decode(bytes));
    const truncated = ack.subarray(0, ack.length - 2);
    expect(() => SubscribeRequest.decode(truncated)).toThrow();
    expect(() => decodeSubscribeRequest(truncated)).toThrow();
  });
});
