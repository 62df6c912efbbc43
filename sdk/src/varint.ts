/**
 * Unsigned varints for the hand-written codecs of the SDK and the server
 * (which imports them through `@protobus/sdk/internal`).
 */

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

/** Writes the unsigned varint of a non-negative safe integer at `offset`; returns the offset after it. */
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

/** Bytes of the unsigned varint of a `uint64` (0 to 2^64 - 1). */
export function uint64Size(value: bigint): number {
  if (value <= 0xffffffffn) return varintSize(Number(value));
  let size = 1;
  while (value >= 0x80n) {
    value >>= 7n;
    size += 1;
  }
  return size;
}

/** Writes the unsigned varint of a `uint64` (0 to 2^64 - 1) at `offset`; returns the offset after it. */
export function writeUint64(buffer: Uint8Array, offset: number, value: bigint): number {
  if (value <= 0xffffffffn) return writeVarint(buffer, offset, Number(value));
  while (value >= 0x80n) {
    buffer[offset++] = Number(value & 0x7fn) | 0x80;
    value >>= 7n;
  }
  buffer[offset++] = Number(value);
  return offset;
}
