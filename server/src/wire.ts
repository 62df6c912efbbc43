/**
 * The one module for the Protobuf wire layout the server writes and reads
 * by hand, where the generated codecs would cost a decode and re-encode:
 * the field numbers it relies on, and the SDK's varint writers (shared with
 * its own hand-written codecs) re-exported. Every number here
 * is checked against the bundled descriptor set by test/wire.test.ts, so a
 * field renumbered in a .proto fails the suite instead of corrupting
 * deliveries.
 */
import { WireType } from "@bufbuild/protobuf/wire";
import { uint64Size, varintSize, writeUint64, writeVarint } from "@protobus/sdk/internal";

export { WireType, varintSize, writeVarint };

/** Field numbers of `protobus.v1.Event` read or written without the generated codec. */
export const EventField = { priority: 12, tags: 13, orderingKey: 15, sequence: 19, publishTime: 20 } as const;
/** Field numbers of `google.protobuf.Timestamp`. */
export const TimestampField = { seconds: 1, nanos: 2 } as const;
/** Field numbers of `protobus.v1.SubscribeResponse` (its `response` oneof). */
export const SubscribeResponseField = { delivery: 2, batch: 5 } as const;
/** Field numbers of `protobus.v1.Delivery`. */
export const DeliveryField = { event: 1, deliveryId: 2, attempt: 3 } as const;
/** Field numbers of `protobus.v1.DeliveryBatch`. */
export const DeliveryBatchField = { deliveries: 1 } as const;

/** A field's tag: `(field number << 3) | wire type`. */
export function fieldTag(field: number, wireType: WireType): number {
  return field * 8 + wireType;
}

/** The unsigned varint of a non-negative safe integer, as bytes. */
export function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

/**
 * The wire type of every field of `protobus.v1.Event`, by field number
 * (`undefined` for numbers the envelope does not define). Checked against
 * the descriptor by test/stored-envelope.test.ts.
 */
export const EVENT_WIRE_TYPES: readonly (WireType | undefined)[] = (() => {
  const types = new Array<WireType | undefined>(22).fill(WireType.LengthDelimited);
  types[0] = undefined;
  for (const varint of [EventField.priority, EventField.sequence, 21]) types[varint] = WireType.Varint;
  return types;
})();

/** Fields of `protobus.v1.Event` the server completes or sets, written after a publisher's own bytes. */
export const ServerSetField = { id: 1, specVersion: 4, priority: EventField.priority, sequence: EventField.sequence, publishTime: EventField.publishTime, schemaVersion: 21 } as const;

// The message-typed fields of the envelope (`time`, `expire_time`,
// `publish_time`): Protobuf merges their repeated occurrences, which the
// generated decoder does not do, so a publisher's envelope repeating one is
// not stored as sent.
const MESSAGE_FIELDS = [5, 14, EventField.publishTime] as const;

/** Reads an unsigned varint at `pos` of `bytes`; returns [value, next position], or undefined when truncated. */
export function readVarint(bytes: Uint8Array, pos: number): [number, number] | undefined {
  let value = 0;
  for (let shift = 0; shift < 64; shift += 7) {
    if (pos >= bytes.length) return undefined;
    const byte = bytes[pos++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, pos];
  }
  return undefined;
}

/**
 * True when `bytes`, a publisher's encoded `protobus.v1.Event`, can be
 * stored as sent with the server's fields written after it: every field is
 * one the envelope defines, with its own wire type, and no message-typed
 * field occurs twice. Anything else (unknown fields, which the generated
 * decoder drops, or mismatched wire types, which it skips) is re-encoded
 * from the decoded envelope instead, so stored bytes always decode alike in
 * every Protobuf runtime.
 */
export function isStorableEnvelope(bytes: Uint8Array): boolean {
  // It runs for every published event: no tuple per varint read.
  let seenMessages = 0;
  let pos = 0;
  while (pos < bytes.length) {
    pos = scanVarint(bytes, pos);
    if (pos < 0) return false;
    const field = Math.floor(scannedValue / 8);
    const wireType = scannedValue & 7;
    if (EVENT_WIRE_TYPES[field] !== wireType) return false;
    pos = scanVarint(bytes, pos);
    if (pos < 0) return false;
    if (wireType === WireType.LengthDelimited) pos += scannedValue;
    const message = field === MESSAGE_FIELDS[0] ? 0 : field === MESSAGE_FIELDS[1] ? 1 : field === MESSAGE_FIELDS[2] ? 2 : -1;
    if (message >= 0) {
      if ((seenMessages & (1 << message)) !== 0) return false;
      seenMessages |= 1 << message;
    }
  }
  return pos === bytes.length;
}

// The value of the varint scanVarint read last.
let scannedValue = 0;

/**
 * Reads the varint at `pos`, which must end before `end`, without
 * allocating: the value is then {@link scannedVarint}'s (past 2^53 it loses
 * precision, which no tag or length reaches). Returns the position after it,
 * or -1 when it runs past `end` or over 10 bytes. For scans that run for
 * every event; {@link readVarint} returns a tuple instead.
 */
export function scanVarint(bytes: Uint8Array, pos: number, end: number = bytes.length): number {
  let value = 0;
  for (let shift = 0; shift < 64; shift += 7) {
    if (pos >= end) return -1;
    const byte = bytes[pos++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) {
      scannedValue = value;
      return pos;
    }
  }
  return -1;
}

/** The value of the varint {@link scanVarint} read last. */
export function scannedVarint(): number {
  return scannedValue;
}

/** The server-set values written after a publisher's envelope ({@link writeServerFields}). */
export interface ServerFields {
  /** The id the server assigned; undefined when the publisher sent one. */
  readonly id: string | undefined;
  /** The spec version to write; undefined when the publisher sent it. */
  readonly specVersion: string | undefined;
  /** The priority to write; undefined when the publisher sent one. */
  readonly priority: number | undefined;
  /** The sequence (always written). */
  readonly sequence: bigint;
  /** The publish time in ms since the epoch (always written, seconds and nanos both explicit). */
  readonly publishMs: number;
  /** The schema version; written when not 0 or when `overrideSchemaVersion`. */
  readonly schemaVersion: number;
  /** The publisher set a schema version that must be overwritten, even by 0. */
  readonly overrideSchemaVersion: boolean;
}

function timestampParts(publishMs: number): [number, number] {
  const seconds = Math.floor(publishMs / 1000);
  return [seconds, (publishMs - seconds * 1000) * 1_000_000];
}

// Ids and the spec version are short and nearly always ASCII: measured and
// written by hand, without a native call (and a Buffer view) per string.
const SHORT_TEXT = 64;

/** UTF-8 bytes of `text`. */
function utf8Length(text: string): number {
  if (text.length > SHORT_TEXT) return Buffer.byteLength(text);
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text);
  return text.length;
}

/** Writes `text`, `byteLength` bytes of UTF-8 (from {@link utf8Length}), at `offset`; returns the offset after it. */
function writeUtf8(buffer: Uint8Array, offset: number, text: string, byteLength: number): number {
  if (byteLength === text.length && byteLength <= SHORT_TEXT) {
    for (let i = 0; i < byteLength; i++) buffer[offset + i] = text.charCodeAt(i);
    return offset + byteLength;
  }
  const view = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return offset + view.write(text, offset, byteLength, "utf8");
}

function textSize(text: string): number {
  const length = utf8Length(text);
  return 1 + varintSize(length) + length;
}

/** Bytes {@link writeServerFields} writes for `fields`. */
export function serverFieldsSize(fields: ServerFields): number {
  let size = 0;
  if (fields.id !== undefined) size += textSize(fields.id);
  if (fields.specVersion !== undefined) size += textSize(fields.specVersion);
  if (fields.priority !== undefined) size += 1 + varintSize(fields.priority);
  size += 2 + uint64Size(fields.sequence);
  const [seconds, nanos] = timestampParts(fields.publishMs);
  size += 2 + 1 + 2 + varintSize(seconds) + varintSize(nanos);
  if (fields.schemaVersion !== 0 || fields.overrideSchemaVersion) size += 2 + varintSize(fields.schemaVersion);
  return size;
}

function writeText(buffer: Uint8Array, offset: number, field: number, text: string): number {
  const length = utf8Length(text);
  offset = writeVarint(buffer, offset, fieldTag(field, WireType.LengthDelimited));
  offset = writeVarint(buffer, offset, length);
  return writeUtf8(buffer, offset, text, length);
}

/**
 * Writes the server-set fields of an envelope at `offset` of `buffer`, to
 * follow a publisher's encoded `Event`: a parser keeps the last occurrence
 * of a singular scalar field and merges message fields, so the publish
 * time is written with both its seconds and nanos (even when 0) to replace
 * any a publisher sent. Returns the offset after them.
 */
export function writeServerFields(buffer: Uint8Array, offset: number, fields: ServerFields): number {
  if (fields.id !== undefined) offset = writeText(buffer, offset, ServerSetField.id, fields.id);
  if (fields.specVersion !== undefined) offset = writeText(buffer, offset, ServerSetField.specVersion, fields.specVersion);
  if (fields.priority !== undefined) {
    offset = writeVarint(buffer, offset, fieldTag(ServerSetField.priority, WireType.Varint));
    offset = writeVarint(buffer, offset, fields.priority);
  }
  offset = writeVarint(buffer, offset, fieldTag(ServerSetField.sequence, WireType.Varint));
  offset = writeUint64(buffer, offset, fields.sequence);
  const [seconds, nanos] = timestampParts(fields.publishMs);
  offset = writeVarint(buffer, offset, fieldTag(ServerSetField.publishTime, WireType.LengthDelimited));
  offset = writeVarint(buffer, offset, 2 + varintSize(seconds) + varintSize(nanos));
  offset = writeVarint(buffer, offset, fieldTag(TimestampField.seconds, WireType.Varint));
  offset = writeVarint(buffer, offset, seconds);
  offset = writeVarint(buffer, offset, fieldTag(TimestampField.nanos, WireType.Varint));
  offset = writeVarint(buffer, offset, nanos);
  if (fields.schemaVersion !== 0 || fields.overrideSchemaVersion) {
    offset = writeVarint(buffer, offset, fieldTag(ServerSetField.schemaVersion, WireType.Varint));
    offset = writeVarint(buffer, offset, fields.schemaVersion);
  }
  return offset;
}

/** Field numbers of `protobus.v1.PublishResponse` and `protobus.v1.PublishResult`. */
export const PublishResponseField = { results: 1 } as const;
/** Field numbers of `protobus.v1.PublishResult`. */
export const PublishResultField = { id: 1, sequence: 2, duplicate: 3 } as const;

/** One result as {@link encodePublishResponse} writes it. */
export interface PublishResultFields {
  readonly id: string;
  readonly sequence: bigint;
  readonly duplicate: boolean;
}

/**
 * Encodes a `protobus.v1.PublishResponse` as the generated codec does
 * (default values omitted), sized exactly in one pass: the generated
 * writer encoded each id through a `TextEncoder` into a growing buffer,
 * ≈9% of the server's time in a 100-events-per-request publish stream.
 */
export function encodePublishResponse(results: readonly PublishResultFields[]): Buffer {
  const idBytes = new Array<number>(results.length);
  const sizes = new Array<number>(results.length);
  let total = 0;
  for (let i = 0; i < results.length; i++) {
    const result = results[i] as PublishResultFields;
    const id = utf8Length(result.id);
    let size = id > 0 ? 1 + varintSize(id) + id : 0;
    if (result.sequence !== 0n) size += 1 + uint64Size(result.sequence);
    if (result.duplicate) size += 2;
    idBytes[i] = id;
    sizes[i] = size;
    total += 1 + varintSize(size) + size;
  }
  const buffer = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let i = 0; i < results.length; i++) {
    const result = results[i] as PublishResultFields;
    offset = writeVarint(buffer, offset, fieldTag(PublishResponseField.results, WireType.LengthDelimited));
    offset = writeVarint(buffer, offset, sizes[i] as number);
    const id = idBytes[i] as number;
    if (id > 0) {
      offset = writeVarint(buffer, offset, fieldTag(PublishResultField.id, WireType.LengthDelimited));
      offset = writeVarint(buffer, offset, id);
      offset = writeUtf8(buffer, offset, result.id, id);
    }
    if (result.sequence !== 0n) {
      offset = writeVarint(buffer, offset, fieldTag(PublishResultField.sequence, WireType.Varint));
      offset = writeUint64(buffer, offset, result.sequence);
    }
    if (result.duplicate) {
      offset = writeVarint(buffer, offset, fieldTag(PublishResultField.duplicate, WireType.Varint));
      buffer[offset++] = 1;
    }
  }
  return buffer;
}
