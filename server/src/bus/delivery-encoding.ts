/**
 * Encodes `SubscribeResponse{delivery}` around an event that is already
 * encoded, so that fan-out to many subscribers serializes each event once.
 * The bytes are exactly what `SubscribeResponse.encode` would produce.
 */
import type { StoredEvent } from "../storage/backend.js";
import { DeliveryBatchField, DeliveryField, SubscribeResponseField, WireType, fieldTag, varintSize, writeVarint } from "../wire.js";

// Each tag fits one byte (field numbers below 16).
const RESPONSE_DELIVERY = fieldTag(SubscribeResponseField.delivery, WireType.LengthDelimited);
const DELIVERY_EVENT = fieldTag(DeliveryField.event, WireType.LengthDelimited);
const DELIVERY_ID = fieldTag(DeliveryField.deliveryId, WireType.LengthDelimited);
const DELIVERY_ATTEMPT = fieldTag(DeliveryField.attempt, WireType.Varint);
const RESPONSE_BATCH = fieldTag(SubscribeResponseField.batch, WireType.LengthDelimited);
const BATCH_DELIVERY = fieldTag(DeliveryBatchField.deliveries, WireType.LengthDelimited);

/**
 * The encoded `SubscribeResponse` carrying one delivery of `stored`, shared
 * with every other subscriber that sends the same delivery (broadcast):
 * delivery ids depend only on the event and the attempt, so the first
 * subscriber encodes the bytes and the event keeps them for the others.
 */
export function encodeDelivery(stored: StoredEvent, deliveryId: string, attempt: number): Uint8Array {
  const cached = stored.lastDelivery;
  if (cached !== undefined && cached.deliveryId === deliveryId && cached.attempt === attempt) return cached.bytes;
  const bytes = encodeUniqueDelivery(stored, deliveryId, attempt);
  stored.lastDelivery = { deliveryId, attempt, bytes };
  return bytes;
}

/** A delivery as the encoders here take it. */
export interface UniqueDelivery {
  readonly stored: StoredEvent;
  readonly deliveryId: string;
  readonly attempt: number;
}

/** Bytes of a delivery id written as UTF-8. */
function idSize(deliveryId: string): number {
  return isAscii(deliveryId) ? deliveryId.length : Buffer.byteLength(deliveryId, "utf8");
}

/** Bytes of an encoded `Delivery` message (its fields, without a tag or length around them). */
function deliverySize(eventLength: number, idLength: number, attempt: number): number {
  return 1 + varintSize(eventLength) + eventLength + 1 + varintSize(idLength) + idLength + (attempt !== 0 ? 1 + varintSize(attempt) : 0);
}

/** Writes the fields of a `Delivery` at `offset`; returns the offset after them. */
function writeDelivery(buffer: Buffer, offset: number, event: Uint8Array, deliveryId: string, idLength: number, attempt: number): number {
  buffer[offset++] = DELIVERY_EVENT;
  offset = writeVarint(buffer, offset, event.byteLength);
  buffer.set(event, offset);
  offset += event.byteLength;
  buffer[offset++] = DELIVERY_ID;
  offset = writeVarint(buffer, offset, idLength);
  if (idLength === deliveryId.length) {
    // Delivery ids are `<sequence>.<attempt>`: a byte per character, written without a call into the encoder.
    for (let i = 0; i < idLength; i++) buffer[offset++] = deliveryId.charCodeAt(i);
  } else {
    offset += buffer.write(deliveryId, offset, "utf8");
  }
  if (attempt !== 0) {
    buffer[offset++] = DELIVERY_ATTEMPT;
    offset = writeVarint(buffer, offset, attempt);
  }
  return offset;
}

/**
 * The encoded `SubscribeResponse` of a delivery only one subscriber sends
 * (a consumer group's): not remembered for reuse.
 */
export function encodeUniqueDelivery(stored: StoredEvent, deliveryId: string, attempt: number): Uint8Array {
  const event = stored.bytes;
  const idLength = idSize(deliveryId);
  const inner = deliverySize(event.byteLength, idLength, attempt);
  const buffer = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
  buffer[0] = RESPONSE_DELIVERY;
  writeDelivery(buffer, writeVarint(buffer, 1, inner), event, deliveryId, idLength, attempt);
  return buffer;
}

/** Bytes `deliveries[i]` adds to a `DeliveryBatch` (its tag, length and fields). */
export function batchEntrySize(delivery: UniqueDelivery): number {
  const inner = deliverySize(delivery.stored.bytes.byteLength, idSize(delivery.deliveryId), delivery.attempt);
  return 1 + varintSize(inner) + inner;
}

/**
 * The encoded `SubscribeResponse{batch}` of `deliveries[start, end)` that
 * only one subscriber sends (a consumer group's), written straight from the
 * stored envelopes: one buffer and one copy of each event, where
 * {@link encodeDeliveryBatch} of single encodings copies each twice.
 * `sizes[i]` is {@link batchEntrySize} of `deliveries[i]`.
 */
export function encodeUniqueDeliveryBatch(deliveries: readonly UniqueDelivery[], sizes: readonly number[], start: number, end: number): Uint8Array {
  let total = 0;
  for (let i = start; i < end; i++) total += sizes[i] as number;
  const buffer = Buffer.allocUnsafe(1 + varintSize(total) + total);
  buffer[0] = RESPONSE_BATCH;
  let offset = writeVarint(buffer, 1, total);
  for (let i = start; i < end; i++) {
    const { stored, deliveryId, attempt } = deliveries[i] as UniqueDelivery;
    const event = stored.bytes;
    const idLength = idSize(deliveryId);
    buffer[offset++] = BATCH_DELIVERY;
    offset = writeVarint(buffer, offset, deliverySize(event.byteLength, idLength, attempt));
    offset = writeDelivery(buffer, offset, event, deliveryId, idLength, attempt);
  }
  return buffer;
}

/** True when every character of `text` is ASCII (one UTF-8 byte each). */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}


/**
 * Encodes `SubscribeResponse{batch}` from single-delivery encodings (as
 * `encodeDelivery` and `encodeUniqueDelivery` return them). An entry of
 * `DeliveryBatch.deliveries` is encoded exactly like the `delivery` field of
 * a `SubscribeResponse` except for its field tag, so each single encoding is
 * copied and only its first byte rewritten.
 */
export function encodeDeliveryBatch(singles: readonly Uint8Array[]): Uint8Array {
  let inner = 0;
  for (const single of singles) inner += single.byteLength;
  const buffer = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
  let offset = 0;
  buffer[offset++] = RESPONSE_BATCH;
  offset = writeVarint(buffer, offset, inner);
  for (const single of singles) {
    buffer.set(single, offset);
    buffer[offset] = BATCH_DELIVERY;
    offset += single.byteLength;
  }
  return buffer;
}
