/**
 * A hand-written encoder of `protobus.v1.Event` for the publish path: the
 * same bytes as the generated `Event.encode(event).finish()` (the test
 * `event-encoder.test.ts` compares them field by field and byte by byte),
 * written in one pass into a scratch buffer and copied out. The generated
 * writer allocates an array per string, a chunk list and a fork per
 * timestamp: about 5 KB of garbage per published event, which the
 * publisher's process paid in young-generation collections.
 *
 * Values the fast path does not cover (a time before 1970, a timestamp
 * with negative nanos) go through the generated encoder.
 */
import { Event } from "./gen/protobus/v1/event.pb.js";
import { varintSize, writeUint64, writeVarint } from "./varint.js";

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

/** Field numbers of the envelope, in the order the generated encoder writes them. */
const F = {
  id: 1,
  source: 2,
  type: 3,
  specVersion: 4,
  time: 5,
  subject: 6,
  dataContentType: 7,
  dataSchema: 8,
  data: 9,
  correlationId: 10,
  causationId: 11,
  priority: 12,
  tags: 13,
  expireTime: 14,
  orderingKey: 15,
  traceparent: 16,
  tracestate: 17,
  attributes: 18,
  sequence: 19,
  publishTime: 20,
  schemaVersion: 21,
} as const;

/** `PublishRequest.events`. */
const PUBLISH_REQUEST_EVENTS_TAG = (1 << 3) | WIRE_LENGTH_DELIMITED;

function tagOf(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

/** The largest `uint64`: a larger sequence goes through the generated encoder (which refuses it). */
const MAX_UINT64 = 2n ** 64n - 1n;

/** Seconds and nanos of a time, as the generated codec splits it; undefined when either would be negative. */
function timestampOf(time: Date | undefined): [number, number] | undefined {
  if (time === undefined) return undefined;
  const ms = time.getTime();
  return ms >= 0 ? [Math.trunc(ms / 1000), (ms % 1000) * 1_000_000] : undefined;
}

/** The envelope is written here, then copied out; it grows to the largest envelope seen. */
let scratch = Buffer.allocUnsafeSlow(4096);
let at = 0;

function varintField(field: number, value: number): void {
  at = writeVarint(scratch, at, tagOf(field, WIRE_VARINT));
  at = writeVarint(scratch, at, value);
}

/** A length-delimited text field; `always` writes an empty one too (a repeated value). */
function textField(field: number, value: string, always = false): void {
  if (value === "" && !always) return;
  const bytes = Buffer.byteLength(value, "utf8");
  at = writeVarint(scratch, at, tagOf(field, WIRE_LENGTH_DELIMITED));
  at = writeVarint(scratch, at, bytes);
  at += scratch.write(value, at, bytes, "utf8");
}

function timestampField(field: number, parts: [number, number] | undefined): void {
  if (parts === undefined) return;
  const [seconds, nanos] = parts;
  const body = (seconds !== 0 ? 1 + varintSize(seconds) : 0) + (nanos !== 0 ? 1 + varintSize(nanos) : 0);
  at = writeVarint(scratch, at, tagOf(field, WIRE_LENGTH_DELIMITED));
  at = writeVarint(scratch, at, body);
  if (seconds !== 0) varintField(1, seconds);
  if (nanos !== 0) varintField(2, nanos);
}

function attributeField(key: string, value: string): void {
  const keyBytes = Buffer.byteLength(key, "utf8");
  const valueBytes = Buffer.byteLength(value, "utf8");
  const body = (keyBytes > 0 ? 1 + varintSize(keyBytes) + keyBytes : 0) + (valueBytes > 0 ? 1 + varintSize(valueBytes) + valueBytes : 0);
  at = writeVarint(scratch, at, tagOf(F.attributes, WIRE_LENGTH_DELIMITED));
  at = writeVarint(scratch, at, body);
  textField(1, key);
  textField(2, value);
}

/** At least the bytes the envelope can take: 3 per UTF-16 unit of text, 16 per field's tag, length and numbers. */
function upperBound(event: Event): number {
  let text = event.id.length + event.source.length + event.type.length + event.specVersion.length + event.subject.length;
  text += event.dataContentType.length + event.dataSchema.length + event.correlationId.length + event.causationId.length;
  text += event.orderingKey.length + event.traceparent.length + event.tracestate.length;
  let fields = 32;
  for (const tag of event.tags) text += tag.length;
  fields += event.tags.length;
  for (const key in event.attributes) {
    text += key.length + (event.attributes[key] as string).length;
    fields += 3;
  }
  return 3 * text + 16 * fields + event.data.length;
}

/** The encoded envelope, the same bytes as the generated encoder writes. */
export function encodeEvent(event: Event): Uint8Array {
  const time = timestampOf(event.time);
  const expireTime = timestampOf(event.expireTime);
  const publishTime = timestampOf(event.publishTime);
  const fastTimes = (event.time === undefined || time !== undefined) && (event.expireTime === undefined || expireTime !== undefined) && (event.publishTime === undefined || publishTime !== undefined);
  if (!fastTimes || event.sequence < 0n || event.sequence > MAX_UINT64) return Event.encode(event).finish();
  const bound = upperBound(event);
  if (scratch.length < bound) scratch = Buffer.allocUnsafeSlow(Math.max(bound, 2 * scratch.length));
  at = 0;
  textField(F.id, event.id);
  textField(F.source, event.source);
  textField(F.type, event.type);
  textField(F.specVersion, event.specVersion);
  timestampField(F.time, time);
  textField(F.subject, event.subject);
  textField(F.dataContentType, event.dataContentType);
  textField(F.dataSchema, event.dataSchema);
  if (event.data.length !== 0) {
    at = writeVarint(scratch, at, tagOf(F.data, WIRE_LENGTH_DELIMITED));
    at = writeVarint(scratch, at, event.data.length);
    scratch.set(event.data, at);
    at += event.data.length;
  }
  textField(F.correlationId, event.correlationId);
  textField(F.causationId, event.causationId);
  if (event.priority !== undefined) varintField(F.priority, event.priority >>> 0);
  for (const tag of event.tags) textField(F.tags, tag, true);
  timestampField(F.expireTime, expireTime);
  textField(F.orderingKey, event.orderingKey);
  textField(F.traceparent, event.traceparent);
  textField(F.tracestate, event.tracestate);
  for (const key in event.attributes) attributeField(key, event.attributes[key] as string);
  if (event.sequence !== 0n) {
    at = writeVarint(scratch, at, tagOf(F.sequence, WIRE_VARINT));
    at = writeUint64(scratch, at, event.sequence);
  }
  timestampField(F.publishTime, publishTime);
  if (event.schemaVersion !== 0) varintField(F.schemaVersion, event.schemaVersion >>> 0);
  const out = Buffer.allocUnsafe(at);
  scratch.copy(out, 0, 0, at);
  return out;
}

/** Bytes an encoded envelope takes in a `PublishRequest` (its tag and length included). */
export function publishRequestEntrySize(encoded: Uint8Array): number {
  return 1 + varintSize(encoded.length) + encoded.length;
}

/** A `PublishRequest` of envelopes encoded by {@link encodeEvent}: their bytes, each framed as `events`. */
export function encodePublishRequest(events: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const encoded of events) size += publishRequestEntrySize(encoded);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const encoded of events) {
    out[pos++] = PUBLISH_REQUEST_EVENTS_TAG;
    pos = writeVarint(out, pos, encoded.length);
    out.set(encoded, pos);
    pos += encoded.length;
  }
  return out;
}
