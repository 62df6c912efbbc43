/**
 * A check of binary Protobuf payloads on the wire, without building the
 * message: every field is walked by its tag, as the descriptor says it is
 * encoded. It answers only what is certain: a payload it accepts decodes
 * with `fromBinary`, and its only violations are the unknown fields it
 * found at the top level (none for nearly every payload), in the order
 * `fromBinary` reads them. Anything else unusual (unknown fields in nested
 * messages, wire types other than the field's own, groups, closed enums,
 * invalid UTF-8, truncation, deep nesting) is left to the full decode,
 * which names the violation, so results are the same either way. A
 * payload of a megabyte can hold half a million unknown fields: the full
 * decode builds a message holding each of them, the walk counts them.
 */
import { isUtf8 } from "node:buffer";
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";

const VARINT = 0;
const BIT64 = 1;
const LEN = 2;
const BIT32 = 5;

// Far below fromBinary's recursion limit (100): deeper payloads take the full decode.
const MAX_DEPTH = 32;

/** How one field number is read: its wire type, and what a length-delimited value holds. */
interface FieldRead {
  readonly wireType: number;
  /** For LEN: a message to walk, a map entry, a packed scalar (its wire type), UTF-8 text or bytes. */
  readonly message?: DescMessage;
  readonly mapEntry?: { readonly key: FieldRead; readonly value: FieldRead };
  readonly packed?: number;
  readonly text?: boolean;
}

function scalarWireType(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return BIT64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return BIT32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LEN;
    default:
      return VARINT;
  }
}

function scalarRead(scalar: ScalarType): FieldRead {
  return scalar === ScalarType.STRING ? { wireType: LEN, text: true } : { wireType: scalarWireType(scalar) };
}

/** How `field` is read, or undefined when only the full decode may judge it. */
function fieldRead(field: DescField): FieldRead | undefined {
  if (field.fieldKind === "message") return field.delimitedEncoding ? undefined : { wireType: LEN, message: field.message };
  if (field.fieldKind === "enum") return field.enum.open ? { wireType: VARINT } : undefined;
  if (field.fieldKind === "scalar") return scalarRead(field.scalar);
  if (field.fieldKind === "map") {
    if (field.mapKind === "enum" && !field.enum.open) return undefined;
    const value: FieldRead = field.mapKind === "message" ? { wireType: LEN, message: field.message } : field.mapKind === "enum" ? { wireType: VARINT } : scalarRead(field.scalar);
    return { wireType: LEN, mapEntry: { key: scalarRead(field.mapKey), value } };
  }
  if (field.listKind === "message") return field.delimitedEncoding ? undefined : { wireType: LEN, message: field.message };
  if (field.listKind === "enum") return field.enum.open ? { wireType: VARINT, packed: VARINT } : undefined;
  const wireType = scalarWireType(field.scalar);
  return wireType === LEN ? scalarRead(field.scalar) : { wireType, packed: wireType };
}

const plans = new WeakMap<DescMessage, Map<number, FieldRead | undefined>>();

function planOf(desc: DescMessage): Map<number, FieldRead | undefined> {
  let plan = plans.get(desc);
  if (plan === undefined) {
    plan = new Map(desc.fields.map((field) => [field.number, fieldRead(field)]));
    plans.set(desc, plan);
  }
  return plan;
}

/** A field number `desc` does not define, with the wire type it came with. */
export interface UnknownField {
  readonly no: number;
  readonly wireType: number;
}

/** The unknown fields of a payload's top level: all counted, the first `limit` kept. */
export interface UnknownFields {
  count: number;
  readonly first: UnknownField[];
  readonly limit: number;
}

// The wire types an unknown field may come with and still be skipped here
// exactly as fromBinary skips it (groups, and types 6 and 7, are left to it).
const SKIPPABLE = [true, true, true, false, false, true, false, false];

// How an unknown value is read: by its wire type alone (LEN: any bytes).
const OPAQUE: FieldRead = { wireType: LEN };

/** A cursor over one buffer; every read returns false (or -1) instead of throwing. */
class Walk {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  /** An unsigned varint of at most `maxBytes` bytes, or -1. Values past 2^53 lose precision, which no check here needs. */
  varint(maxBytes: number): number {
    const bytes = this.bytes;
    const end = Math.min(bytes.length, this.pos + maxBytes);
    let pos = this.pos;
    let value = 0;
    let scale = 1;
    while (pos < end) {
      const byte = bytes[pos++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.pos = pos;
        return value;
      }
      scale *= 128;
    }
    this.pos = pos;
    return -1;
  }

  /** Skips a value of `read`'s kind whose tag was just read; false when it is not certainly valid. */
  value(read: FieldRead, wireType: number, depth: number): boolean {
    if (wireType === VARINT) return this.varint(10) >= 0;
    if (wireType === BIT64 || wireType === BIT32) {
      this.pos += wireType === BIT64 ? 8 : 4;
      return this.pos <= this.bytes.length;
    }
    const length = this.varint(5);
    if (length < 0 || length > 0xffffffff || this.pos + length > this.bytes.length) return false;
    const end = this.pos + length;
    let ok: boolean;
    if (read.message !== undefined) ok = depth < MAX_DEPTH && this.message(read.message, end, depth + 1);
    else if (read.mapEntry !== undefined) ok = this.mapEntry(read.mapEntry, end, depth);
    else if (read.packed !== undefined) {
      ok = true;
      while (ok && this.pos < end) ok = this.value(read, read.packed, depth);
    } else ok = read.text !== true || isUtf8(this.bytes.subarray(this.pos, end));
    if (read.message === undefined && read.mapEntry === undefined && read.packed === undefined) this.pos = end;
    return ok && this.pos === end;
  }

  /** The fields of a `desc` up to `end`; unknown fields are gathered into `unknown` when given, else not certainly valid. */
  message(desc: DescMessage, end: number, depth: number, unknown?: UnknownFields): boolean {
    const plan = planOf(desc);
    while (this.pos < end) {
      const tag = this.varint(5);
      if (tag < 1 || tag > 0xffffffff) return false;
      const wireType = tag & 7;
      const no = Math.floor(tag / 8);
      const read = plan.get(no);
      if (read === undefined) {
        // Not a field of `desc` (number 0 is no field at all, and some fields only the full decode may judge): skipped as its wire type says.
        if (unknown === undefined || no === 0 || plan.has(no) || !SKIPPABLE[wireType] || !this.value(OPAQUE, wireType, depth)) return false;
        unknown.count += 1;
        if (unknown.first.length < unknown.limit) unknown.first.push({ no, wireType });
        continue;
      }
      // A repeated numeric field may come packed (LEN) or one by one.
      if (wireType !== read.wireType && !(read.packed !== undefined && wireType === LEN)) return false;
      if (!this.value(read, wireType, depth)) return false;
    }
    return this.pos === end;
  }

  /** A map entry: key (field 1) and value (field 2), each with its own wire type. */
  mapEntry(entry: { readonly key: FieldRead; readonly value: FieldRead }, end: number, depth: number): boolean {
    while (this.pos < end) {
      const tag = this.varint(5);
      const read = tag === 8 + entry.key.wireType ? entry.key : tag === 16 + entry.value.wireType ? entry.value : undefined;
      if (read === undefined || !this.value(read, read.wireType, depth)) return false;
    }
    return this.pos === end;
  }
}

/**
 * The unknown fields at the top level of `data` (the first `limit` of
 * them, and how many in all) when that is certainly all the full decode
 * would find wrong with it: none at all for a valid payload. Undefined
 * says only that the full decode must judge it.
 */
export function topLevelUnknownFields(desc: DescMessage, data: Uint8Array, limit: number): UnknownFields | undefined {
  const unknown: UnknownFields = { count: 0, first: [], limit };
  return new Walk(data).message(desc, data.length, 1, unknown) ? unknown : undefined;
}
