/**
 * Reads what consumer groups order by, the priority and the ordering key,
 * off an encoded `protobus.v1.Event` without decoding the rest: one pass
 * over the tags, skipping every other field. Used where a stored envelope
 * is at hand as bytes (the backlog reader thread, `StoredEvent`).
 */
import { EventField, WireType } from "../wire.js";

/** The priority of an event that names none (`protobus.v1.Event.priority`). */
export const DEFAULT_PRIORITY = 4;

/** Where {@link scanGrouping} puts what it read. */
export interface GroupingScan {
  /** The priority; {@link DEFAULT_PRIORITY} when the envelope names none. */
  priority: number;
  /** The ordering key's bytes are `[keyStart, keyEnd)`; both -1 when there is no key. */
  keyStart: number;
  keyEnd: number;
}

const PRIORITY_FIELD = EventField.priority;
const ORDERING_KEY_FIELD = EventField.orderingKey;

// The scan's position: module state, so that reading a varint returns one
// number and allocates nothing (scans are synchronous, never interleaved).
let pos = 0;

/** The varint at `pos` (which moves past it), or -1 when it runs past `end` or is longer than 64 bits. */
function varint(bytes: Uint8Array, end: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && pos < end; i++) {
    const byte = bytes[pos++] as number;
    // Past 2^53 precision is lost, which no tag, length or field here reaches.
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 0x80;
  }
  return -1;
}

/**
 * Scans the envelope in `bytes[start, end)` into `out` (reused by the
 * caller: no allocation per event). Returns false when the bytes are not
 * a well-formed run of fields this scan reads (truncated, or a group wire
 * type, which `protobus.v1.Event` never uses): the caller decodes in full.
 * Later occurrences of a field win, as in every Protobuf decoder.
 */
export function scanGrouping(bytes: Uint8Array, start: number, end: number, out: GroupingScan): boolean {
  let priority = DEFAULT_PRIORITY;
  let keyStart = -1;
  let keyEnd = -1;
  pos = start;
  while (pos < end) {
    // Tags and lengths are nearly always one byte: read inline, the rest by `varint`.
    let tag = bytes[pos] as number;
    if (tag < 0x80) pos += 1;
    else if ((tag = varint(bytes, end)) < 0) return false;
    const wireType = tag & 7;
    if (wireType === WireType.LengthDelimited || wireType === WireType.Varint) {
      if (pos >= end) return false;
      let value = bytes[pos] as number;
      if (value < 0x80) pos += 1;
      else if ((value = varint(bytes, end)) < 0) return false;
      const field = (tag - wireType) / 8;
      if (wireType === WireType.Varint) {
        if (field === PRIORITY_FIELD) priority = value >>> 0;
        continue;
      }
      if (field === ORDERING_KEY_FIELD) {
        keyStart = pos;
        keyEnd = pos + value;
      }
      pos += value;
    } else if (wireType === WireType.Bit64) {
      pos += 8;
    } else if (wireType === WireType.Bit32) {
      pos += 4;
    } else {
      return false;
    }
  }
  if (pos !== end) return false;
  out.priority = priority;
  out.keyStart = keyStart;
  out.keyEnd = keyEnd;
  return true;
}
