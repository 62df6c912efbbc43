/**
 * Reads what consumer groups order by, the priority and the ordering key,
 * off an encoded `protobus.v1.Event` without decoding the rest: one pass
 * over the tags, skipping every other field. Used where a stored envelope
 * is at hand as bytes (the backlog reader thread, `StoredEvent`).
 */
import { EventField, WireType, scanVarint, scannedVarint } from "../wire.js";

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
  let pos = start;
  while (pos < end) {
    // Tags and lengths are nearly always one byte: read inline, the rest by `scanVarint`.
    let tag = bytes[pos] as number;
    if (tag < 0x80) pos += 1;
    else if ((pos = scanVarint(bytes, pos, end)) < 0) return false;
    else tag = scannedVarint();
    const wireType = tag & 7;
    if (wireType === WireType.LengthDelimited || wireType === WireType.Varint) {
      if (pos >= end) return false;
      let value = bytes[pos] as number;
      if (value < 0x80) pos += 1;
      else if ((pos = scanVarint(bytes, pos, end)) < 0) return false;
      else value = scannedVarint();
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
