/**
 * Events as JetStream messages. The message body is the encoded envelope
 * without the two fields only the stream knows once it has stored the
 * message: `sequence` (the stream sequence) and `publish_time` (the stream
 * timestamp). Readers append those two fields to the body; Protobuf merges
 * concatenated encodings, so the result is the complete envelope without
 * decoding and re-encoding it.
 */
import { Event } from "@protobus/sdk/proto";
import type { MsgHdrs } from "@nats-io/transport-node";
import { StoredEvent } from "../stored-event.js";
import { EventField, TimestampField, WireType, fieldTag, varintBytes } from "../../wire.js";

const SEQUENCE_TAG = varintBytes(fieldTag(EventField.sequence, WireType.Varint));
const PUBLISH_TIME_TAG = varintBytes(fieldTag(EventField.publishTime, WireType.LengthDelimited));
const SECONDS_TAG = fieldTag(TimestampField.seconds, WireType.Varint);
const NANOS_TAG = fieldTag(TimestampField.nanos, WireType.Varint);

/** Header naming the protobus backend instance that published a message. */
export const ORIGIN_HEADER = "Protobus-Origin";
/** Header carrying `expire_time` in ms since the epoch, so readers need not decode. */
export const EXPIRE_HEADER = "Protobus-Expire-At";

/** The message body of an accepted event: its envelope without the stream-set fields. */
export function encodeBody(event: Event): Uint8Array {
  return Event.encode({ ...event, sequence: 0n, publishTime: undefined }).finish();
}

/** A stored event from a stream message. */
export function storedEventFrom(
  sequence: number,
  type: string,
  body: Uint8Array,
  timestampNanos: bigint,
  headers: MsgHdrs | undefined,
): StoredEvent {
  const publishMs = Number(timestampNanos / 1_000_000n);
  const expire = headers?.get(EXPIRE_HEADER);
  const expireAtMs = expire === undefined || expire === "" ? 0 : Number(expire);
  return new StoredEvent(BigInt(sequence), type, withServerFields(body, sequence, publishMs), expireAtMs);
}

/** `body` followed by the encoded `sequence` (field 19) and `publish_time` (field 20). */
function withServerFields(body: Uint8Array, sequence: number, publishMs: number): Uint8Array {
  const seconds = Math.floor(publishMs / 1000);
  const nanos = (publishMs - seconds * 1000) * 1_000_000;
  const timestamp: number[] = [];
  if (seconds !== 0) timestamp.push(SECONDS_TAG, ...varintBytes(seconds));
  if (nanos !== 0) timestamp.push(NANOS_TAG, ...varintBytes(nanos));
  const tail = [...SEQUENCE_TAG, ...varintBytes(sequence), ...PUBLISH_TIME_TAG, ...varintBytes(timestamp.length), ...timestamp];
  const out = new Uint8Array(body.length + tail.length);
  out.set(body, 0);
  out.set(tail, body.length);
  return out;
}
