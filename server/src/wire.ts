/**
 * The one module for the Protobuf wire layout the server writes and reads
 * by hand, where the generated codecs would cost a decode and re-encode:
 * the field numbers it relies on and the varint helpers. Every number here
 * is checked against the bundled descriptor set by test/wire.test.ts, so a
 * field renumbered in a .proto fails the suite instead of corrupting
 * deliveries.
 */
import { WireType } from "@bufbuild/protobuf/wire";

export { WireType };

/** Field numbers of `protobus.v1.Event` read or written without the generated codec. */
export const EventField = { priority: 12, orderingKey: 15, sequence: 19, publishTime: 20 } as const;
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

/** Bytes of the unsigned varint of a non-negative safe integer. */
export function varintSize(value: number): number {
  let size = 1;
  while (value > 0xffffffff) {
    value = Math.floor(value / 0x80);
    size += 1;
  }
  // Below 2^32 the unsigned shift is exact (and what the hot paths hit).
  while (value >= 0x80) {
    value >>>= 7;
    size += 1;
  }
  return size;
}

/** Writes the unsigned varint of `value` at `offset`; returns the offset after it. */
export function writeVarint(buffer: Uint8Array, offset: number, value: number): number {
  while (value > 0xffffffff) {
    buffer[offset++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  while (value >= 0x80) {
    buffer[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[offset++] = value;
  return offset;
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
