/**
 * The subscription stream's codecs, for its two hot messages: deliveries
 * (`SubscribeResponse` with `batch` or `delivery`, decoded by the SDK) and
 * acks (`SubscribeRequest` with `ack`, encoded by the SDK and decoded by the
 * server). They give exactly what the generated
 * codecs give (the same objects, the same bytes; test/subscribe-codec.test.ts
 * compares them), with less work per event: ASCII strings are read without
 * a `TextDecoder` call, the strings every event of a stream repeats (type,
 * source, spec version, content type) are decoded once and reused,
 * timestamps become `Date`s without a bigint in between, and ack ids are
 * written straight into the request's buffer and read straight out of it. Anything else, or any event
 * whose encoding the fast path does not read (attributes, values too large
 * for a number, wire types it does not expect), goes through the generated
 * codec.
 */
import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { SubscribeRequest, SubscribeResponse, type Delivery } from "./gen/protobus/v1/bus.pb.js";
import { Event } from "./gen/protobus/v1/event.pb.js";
import { varintSize, writeVarint } from "./varint.js";

// Tags (field number << 3 | wire type) read and written here.
const RESPONSE_DELIVERY = (2 << 3) | 2;
const RESPONSE_BATCH = (5 << 3) | 2;
const BATCH_DELIVERY = (1 << 3) | 2;
const DELIVERY_EVENT = (1 << 3) | 2;
const DELIVERY_ID = (2 << 3) | 2;
const DELIVERY_ATTEMPT = (3 << 3) | 0;
const REQUEST_ACK = (2 << 3) | 2;
const ACK_ID = (1 << 3) | 2;
const ACK_CONFIRM = (2 << 3) | 0;
const TIMESTAMP_SECONDS = (1 << 3) | 0;
const TIMESTAMP_NANOS = (2 << 3) | 0;

/** Thrown inside the fast path when it meets what it does not read; the caller decodes with the generated codec. */
class NotFast extends Error {}
const NOT_FAST = new NotFast();

/** A cursor over one received message. */
class Cursor {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly end: number,
  ) {}

  /** An unsigned varint below 2^49 (seven bytes); anything longer is left to the generated codec. */
  varint(limit: number): number {
    const buf = this.buf;
    if (this.pos >= limit) throw NOT_FAST;
    let byte = buf[this.pos++] as number;
    if (byte < 0x80) return byte;
    let value = byte & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 7; i++) {
      if (this.pos >= limit) throw NOT_FAST;
      byte = buf[this.pos++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw NOT_FAST;
  }

  /** A length-delimited field's end, checked against `limit`. */
  lengthEnd(limit: number): number {
    const length = this.varint(limit);
    const end = this.pos + length;
    if (end > limit) throw NOT_FAST;
    return end;
  }
}

/** True when bytes [start, end) of `buf` are all ASCII. */
function isAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((buf[i] as number) >= 0x80) return false;
  return true;
}

/** Decodes UTF-8 like the generated codec (its `TextDecoder`), ASCII without the call. */
function utf8(buf: Buffer, start: number, end: number): string {
  if (start === end) return "";
  // Latin-1 of ASCII bytes is the same text, made without validating UTF-8.
  if (isAscii(buf, start, end)) return buf.toString("latin1", start, end);
  return getTextEncoding().decodeUtf8(buf.subarray(start, end));
}

/** The last bytes decoded for one field and their string, reused while the next event repeats them. */
class RepeatedString {
  #bytes: Buffer = Buffer.alloc(0);
  #text = "";

  decode(buf: Buffer, start: number, end: number): string {
    const bytes = this.#bytes;
    const length = end - start;
    if (length === bytes.length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (bytes[i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#text;
    }
    // Short strings only: a long one is as cheap to decode as to compare.
    const text = utf8(buf, start, end);
    if (length <= 256) {
      this.#bytes = Buffer.from(buf.subarray(start, end));
      this.#text = text;
    }
    return text;
  }
}

/** The strings events of one stream usually share, one cache per field number. */
class SharedStrings {
  readonly #byField: Array<RepeatedString | undefined> = [];

  decode(field: number, buf: Buffer, start: number, end: number): string {
    let cache = this.#byField[field];
    if (cache === undefined) {
      cache = new RepeatedString();
      this.#byField[field] = cache;
    }
    return cache.decode(buf, start, end);
  }
}

/** A `google.protobuf.Timestamp` of `[cursor.pos, end)` as the generated codec's `Date`. */
function timestamp(cursor: Cursor, end: number): Date {
  let seconds = 0;
  let nanos = 0;
  while (cursor.pos < end) {
    const tag = cursor.varint(end);
    if (tag === TIMESTAMP_SECONDS) seconds = cursor.varint(end);
    else if (tag === TIMESTAMP_NANOS) {
      nanos = cursor.varint(end);
      // A negative int32 takes ten bytes (refused above); anything else past int32 is left too.
      if (nanos > 0x7fffffff) throw NOT_FAST;
    } else throw NOT_FAST;
  }
  if (cursor.pos !== end) throw NOT_FAST;
  return new Date(seconds * 1_000 + nanos / 1_000_000);
}

// The payload of an event that has none, until it gets a buffer of its own.
const NO_DATA = Buffer.alloc(0);

/**
 * A new event with every field at its default, in the generated codec's
 * field order: an object literal, so that every event has one hidden class
 * (a copy of a template had slow property additions later, in the
 * subscription's `Object.assign`).
 */
function baseEvent(): Event {
  return {
    id: "", source: "", type: "", specVersion: "", time: undefined, subject: "", dataContentType: "", dataSchema: "", data: NO_DATA,
    correlationId: "", causationId: "", priority: undefined, tags: [], expireTime: undefined, orderingKey: "", traceparent: "",
    tracestate: "", attributes: {}, sequence: 0n, publishTime: undefined, schemaVersion: 0,
  };
}

/** Sets a varint field of `message`. */
function varintField(message: Event, field: number, value: number): void {
  // uint32 as the generated reader reads it: the low 32 bits.
  if (field === 12) message.priority = value >>> 0;
  else if (field === 19) message.sequence = BigInt(value);
  else if (field === 21) message.schemaVersion = value >>> 0;
  else throw NOT_FAST;
}

type StringField = "id" | "source" | "type" | "specVersion" | "subject" | "dataContentType" | "dataSchema" | "correlationId" | "causationId" | "orderingKey" | "traceparent" | "tracestate";

// The singular string fields of `Event` by field number: those events of one stream usually repeat, and the others.
// The trace context repeats too: every event of one traced SDK publish call carries its one `send` span's.
const SHARED_STRINGS: Partial<Record<number, StringField>> = { 2: "source", 3: "type", 4: "specVersion", 7: "dataContentType", 8: "dataSchema", 16: "traceparent", 17: "tracestate" };
const OWN_STRINGS: Partial<Record<number, StringField>> = { 1: "id", 6: "subject", 10: "correlationId", 11: "causationId", 15: "orderingKey" };

/** Per field number (to 21): the string field's name and whether its values are shared; undefined for other fields. */
const STRING_FIELDS: ReadonlyArray<{ readonly name: StringField; readonly shared: boolean } | undefined> = Array.from({ length: 22 }, (_, field) => {
  const shared = SHARED_STRINGS[field];
  if (shared !== undefined) return { name: shared, shared: true };
  const own = OWN_STRINGS[field];
  return own === undefined ? undefined : { name: own, shared: false };
});

/** Sets a length-delimited field of `message` from `[cursor.pos, end)`. */
function lengthDelimitedField(message: Event, field: number, cursor: Cursor, end: number, shared: SharedStrings): void {
  const buf = cursor.buf;
  const start = cursor.pos;
  const string = STRING_FIELDS[field];
  if (string !== undefined) {
    message[string.name] = string.shared ? shared.decode(field, buf, start, end) : utf8(buf, start, end);
  } else if (field === 9) {
    // A copy, as the generated codec makes: the event does not keep the received message alive.
    const data = Buffer.allocUnsafe(end - start);
    buf.copy(data, 0, start, end);
    message.data = data;
  } else if (field === 13) {
    message.tags.push(utf8(buf, start, end));
  } else if (field === 5) {
    message.time = timestamp(cursor, end);
  } else if (field === 14) {
    message.expireTime = timestamp(cursor, end);
  } else if (field === 20) {
    message.publishTime = timestamp(cursor, end);
  } else {
    // Attributes (a map), and fields this build does not know.
    throw NOT_FAST;
  }
  cursor.pos = end;
}

/** An `Event` of `[cursor.pos, end)`, the object `Event.decode` returns. */
function event(cursor: Cursor, end: number, shared: SharedStrings): Event {
  const message = baseEvent();
  while (cursor.pos < end) {
    const tag = cursor.varint(end);
    const wireType = tag & 7;
    if (wireType === 0) varintField(message, tag >>> 3, cursor.varint(end));
    else if (wireType === 2) lengthDelimitedField(message, tag >>> 3, cursor, cursor.lengthEnd(end), shared);
    else throw NOT_FAST;
  }
  if (cursor.pos !== end) throw NOT_FAST;
  // Each event gets a payload buffer of its own, as from the generated codec.
  if (message.data === NO_DATA) message.data = Buffer.alloc(0);
  return message;
}

/** A `Delivery` of `[cursor.pos, end)`; its event through the generated codec when the fast path cannot read it. */
function delivery(cursor: Cursor, end: number, shared: SharedStrings): Delivery {
  const buf = cursor.buf;
  const message: Delivery = { event: undefined, deliveryId: "", attempt: 0 };
  while (cursor.pos < end) {
    const tag = cursor.varint(end);
    if (tag === DELIVERY_EVENT) {
      const eventEnd = cursor.lengthEnd(end);
      const start = cursor.pos;
      try {
        message.event = event(cursor, eventEnd, shared);
      } catch (error) {
        if (error !== NOT_FAST) throw error;
        message.event = Event.decode(buf.subarray(start, eventEnd));
      }
      cursor.pos = eventEnd;
    } else if (tag === DELIVERY_ID) {
      const idEnd = cursor.lengthEnd(end);
      message.deliveryId = utf8(buf, cursor.pos, idEnd);
      cursor.pos = idEnd;
    } else if (tag === DELIVERY_ATTEMPT) {
      message.attempt = cursor.varint(end) >>> 0;
    } else {
      throw NOT_FAST;
    }
  }
  if (cursor.pos !== end) throw NOT_FAST;
  return message;
}

/**
 * A decoder of single envelopes (the bytes of one `Event` in `buf`, from
 * `start` to `end`) with string caches of its own: the object
 * `Event.decode` returns, read by the fast path where it can, and throwing
 * as the generated codec does where it cannot.
 */
export function envelopeDecoder(): (buf: Buffer, start: number, end: number) => Event {
  const shared = new SharedStrings();
  return (buf: Buffer, start: number, end: number): Event => {
    try {
      const cursor = new Cursor(buf, end);
      cursor.pos = start;
      return event(cursor, end, shared);
    } catch (error) {
      if (error !== NOT_FAST) throw error;
    }
    return Event.decode(buf.subarray(start, end));
  };
}

/**
 * A decoder of one subscription stream's responses, with the string caches
 * of that stream (each stream gets its own: nothing is shared between
 * subscriptions).
 */
export function subscribeResponseDecoder(): (buf: Buffer) => SubscribeResponse {
  const shared = new SharedStrings();
  return (buf: Buffer): SubscribeResponse => {
    const first = buf[0];
    if (first === RESPONSE_BATCH || first === RESPONSE_DELIVERY) {
      try {
        const cursor = new Cursor(buf, buf.length);
        cursor.pos = 1;
        const end = cursor.lengthEnd(buf.length);
        // One field, the whole message: anything more is left to the generated codec.
        if (end === buf.length) {
          if (first === RESPONSE_DELIVERY) return { response: { $case: "delivery", delivery: delivery(cursor, end, shared) } };
          const deliveries: Delivery[] = [];
          while (cursor.pos < end) {
            if (cursor.varint(end) !== BATCH_DELIVERY) throw NOT_FAST;
            const deliveryEnd = cursor.lengthEnd(end);
            deliveries.push(delivery(cursor, deliveryEnd, shared));
          }
          return { response: { $case: "batch", batch: { deliveries } } };
        }
      } catch (error) {
        if (error !== NOT_FAST) throw error;
      }
    }
    return SubscribeResponse.decode(buf);
  };
}

/**
 * Encodes a `SubscribeRequest` as the generated codec does; an `ack` of
 * ASCII delivery ids (all the server hands out) is written directly.
 */
export function encodeSubscribeRequest(request: SubscribeRequest): Buffer {
  const message = request.request;
  if (message?.$case === "ack") {
    const { deliveryIds, confirm } = message.ack;
    let inner = confirm ? 2 : 0;
    let ascii = true;
    for (const id of deliveryIds) {
      for (let i = 0; i < id.length; i++) {
        if (id.charCodeAt(i) >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (!ascii) break;
      inner += 1 + varintSize(id.length) + id.length;
    }
    if (ascii) {
      const buf = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
      let pos = 0;
      buf[pos++] = REQUEST_ACK;
      pos = writeVarint(buf, pos, inner);
      for (const id of deliveryIds) {
        buf[pos++] = ACK_ID;
        pos = writeVarint(buf, pos, id.length);
        for (let i = 0; i < id.length; i++) buf[pos++] = id.charCodeAt(i);
      }
      if (confirm) {
        buf[pos++] = ACK_CONFIRM;
        buf[pos++] = 1;
      }
      return buf;
    }
  }
  return Buffer.from(SubscribeRequest.encode(request).finish());
}

/**
 * Decodes a `SubscribeRequest` as the generated codec does; an `ack` (the
 * message a subscriber sends most) is read directly, its ASCII ids without
 * a `TextDecoder` call.
 */
export function decodeSubscribeRequest(buf: Buffer): SubscribeRequest {
  if (buf[0] === REQUEST_ACK) {
    try {
      const cursor = new Cursor(buf, buf.length);
      cursor.pos = 1;
      const end = cursor.lengthEnd(buf.length);
      // One field, the whole message: anything more is left to the generated codec.
      if (end === buf.length) {
        const deliveryIds: string[] = [];
        let confirm = false;
        while (cursor.pos < end) {
          const tag = cursor.varint(end);
          if (tag === ACK_ID) {
            const idEnd = cursor.lengthEnd(end);
            deliveryIds.push(utf8(buf, cursor.pos, idEnd));
            cursor.pos = idEnd;
          } else if (tag === ACK_CONFIRM) {
            confirm = cursor.varint(end) !== 0;
          } else {
            throw NOT_FAST;
          }
        }
        return { request: { $case: "ack", ack: { deliveryIds, confirm } } };
      }
    } catch (error) {
      if (error !== NOT_FAST) throw error;
    }
  }
  return SubscribeRequest.decode(buf);
}
