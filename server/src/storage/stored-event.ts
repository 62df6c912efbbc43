import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Event } from "@protobus/sdk/proto";
import { DEFAULT_PRIORITY, scanGrouping, type GroupingScan } from "./envelope-grouping.js";
import { WireType, fieldTag, serverFieldsSize, writeServerFields, type ServerFields } from "../wire.js";

// One writer for every encode: its buffer keeps the size it grew to, so an
// envelope is encoded without growing (and copying) a fresh buffer each
// time. `finish()` returns a copy and resets it; encoding is synchronous.
// It keeps at most the size of the largest envelope encoded (a few MB).
const writer = new BinaryWriter();

/** The encoded `protobus.v1.Event`, as a fresh exact-size copy. */
export function encodeEnvelope(event: Event): Uint8Array {
  return Event.encode(event, writer).finish();
}

// The framing of encodeEnvelopes: any field 1, length-delimited (one byte).
const FRAME_TAG = fieldTag(1, WireType.LengthDelimited);

/** Payload size from which an append's envelopes are encoded one by one (see {@link encodeEnvelopes}). */
const SHARED_BUFFER_MAX_DATA = 64 * 1024;

/**
 * The encoded envelopes of one append, as views into one buffer: a buffer
 * of its own per envelope (an `ArrayBuffer` allocation and a copy each)
 * was 15% of the server's time in a 100-events-per-request publish stream.
 * They are encoded back to back as a `repeated Event` field (public
 * writer API: `fork`/`join` write each length) and then cut apart. The
 * views keep the shared buffer alive while any of them lives, so envelopes
 * with large payloads get buffers of their own.
 */
export function encodeEnvelopes(events: readonly Event[]): Uint8Array[] {
  if (events.length <= 1 || events.some((event) => event.data.byteLength > SHARED_BUFFER_MAX_DATA)) return events.map(encodeEnvelope);
  for (const event of events) {
    // Framed as field 1, length-delimited: one tag byte, then the length.
    writer.uint32(FRAME_TAG).fork();
    Event.encode(event, writer);
    writer.join();
  }
  const all = writer.finish();
  const out = new Array<Uint8Array>(events.length);
  let pos = 0;
  for (let i = 0; i < events.length; i++) {
    pos += 1;
    let length = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = all[pos++] as number;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte >= 0x80);
    out[i] = all.subarray(pos, pos + length);
    pos += length;
  }
  return out;
}

/**
 * An event as its publisher encoded it (a view into the request), with
 * what the server completes in it: stored as sent, with the server-set
 * fields written after it, instead of decoded and encoded again.
 */
export interface PublishedEnvelope {
  /** The publisher's encoded `protobus.v1.Event`. */
  readonly bytes: Uint8Array;
  /** The publisher sent no id: the server's is written. */
  readonly idMissing: boolean;
  /** The publisher sent no spec version: the server's is written. */
  readonly specVersionMissing: boolean;
  /** The publisher sent no priority: the default is written. */
  readonly priorityMissing: boolean;
  /** The publisher sent a schema version, which the server's replaces even when that is 0. */
  readonly schemaVersionSent: boolean;
}

// One object shape for every event (no conditional spreads: they were
// 13% of the server's time in a 100-events-per-request publish stream).
function serverFieldsOf(event: Event, published: PublishedEnvelope): ServerFields {
  return {
    id: published.idMissing ? event.id : undefined,
    specVersion: published.specVersionMissing ? event.specVersion : undefined,
    priority: published.priorityMissing ? (event.priority ?? DEFAULT_PRIORITY) : undefined,
    sequence: event.sequence,
    publishMs: event.publishTime?.getTime() ?? 0,
    schemaVersion: event.schemaVersion,
    overrideSchemaVersion: published.schemaVersionSent,
  };
}

/**
 * The stored envelopes of one append, whose events have their server
 * fields set: `published[i]`'s bytes followed by event i's server-set
 * fields where the publisher's own encoding is at hand, else the encoded
 * event. Views into one buffer, as {@link encodeEnvelopes} gives.
 */
export function encodeStoredEnvelopes(events: readonly Event[], published: readonly (PublishedEnvelope | undefined)[] | undefined): Uint8Array[] {
  if (published === undefined || !published.some((entry) => entry !== undefined)) return encodeEnvelopes(events);
  const parts = new Array<Uint8Array>(events.length);
  const fields = new Array<ServerFields | undefined>(events.length);
  const sizes = new Array<number>(events.length);
  let total = 0;
  let shared = true;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as Event;
    const entry = published[i];
    const own = entry !== undefined ? serverFieldsOf(event, entry) : undefined;
    const bytes = entry?.bytes ?? encodeEnvelope(event);
    parts[i] = bytes;
    fields[i] = own;
    sizes[i] = bytes.length + (own !== undefined ? serverFieldsSize(own) : 0);
    total += sizes[i] as number;
    if (event.data.byteLength > SHARED_BUFFER_MAX_DATA) shared = false;
  }
  const out = new Array<Uint8Array>(events.length);
  let buffer = shared ? new Uint8Array(total) : undefined;
  let offset = 0;
  for (let i = 0; i < events.length; i++) {
    const bytes = parts[i] as Uint8Array;
    const own = fields[i];
    if (!shared) {
      buffer = new Uint8Array(sizes[i] as number);
      offset = 0;
    }
    const target = buffer as Uint8Array;
    const start = offset;
    target.set(bytes, offset);
    offset += bytes.length;
    if (own !== undefined) offset = writeServerFields(target, offset, own);
    out[i] = target.subarray(start, offset);
  }
  return out;
}

// Reused by every scan (synchronous: no two at once).
const GROUPING_SCAN: GroupingScan = { priority: DEFAULT_PRIORITY, keyStart: -1, keyEnd: -1 };

/**
 * An accepted event as a backend keeps it: its sequence and type (the keys
 * every reader needs) and its encoded envelope with the server-set fields
 * filled in. The envelope is encoded once, when it is accepted, and decoded
 * only when someone asks for `event`; deliveries send `bytes` as they are.
 * Consumer groups order by priority and ordering key: they are kept next to
 * the bytes when the backend knows them, else read from the bytes without
 * decoding the rest of the envelope.
 */
export class StoredEvent {
  #event: Event | undefined;
  #priority: number;
  #orderingKey: string | undefined;
  #firstDeliveryId: string | undefined;
  /**
   * The last delivery of this event encoded for subscribers, kept by the
   * bus's delivery encoding (bus/delivery-encoding.ts) so that every
   * broadcast subscriber sending the same delivery sends the same bytes.
   * A field of the event, not an entry of a WeakMap: it goes with the event,
   * where a weak table's entries wait for the collector and cost each
   * young-generation collection a walk over them.
   */
  lastDelivery: { readonly deliveryId: string; readonly attempt: number; readonly bytes: Uint8Array } | undefined = undefined;

  constructor(
    /** Position in the bus, strictly increasing. */
    readonly sequence: bigint,
    /** The event type, for pattern matching without decoding. */
    readonly type: string,
    /** The encoded `protobus.v1.Event`, server-set fields included. */
    readonly bytes: Uint8Array,
    /** When the event expires, in ms since the epoch; 0 when it never does. */
    readonly expireAtMs: number,
    event?: Event,
    /** The event's priority and ordering key, when the caller has them at hand. */
    grouping?: Pick<Event, "priority" | "orderingKey">,
  ) {
    this.#event = event;
    const known = grouping ?? event;
    this.#priority = known?.priority ?? DEFAULT_PRIORITY;
    this.#orderingKey = known?.orderingKey;
  }

  /** Builds a stored event from an accepted envelope whose server fields are set. */
  static fromEvent(event: Event): StoredEvent {
    return new StoredEvent(event.sequence, event.type, encodeEnvelope(event), event.expireTime?.getTime() ?? 0, event);
  }

  /** The delivery priority within a group's backlog: 0 first, 9 last, 4 when the event names none. */
  get priority(): number {
    if (this.#orderingKey === undefined) this.#readGrouping();
    return this.#priority;
  }

  /** The ordering key; empty when the event has none. */
  get orderingKey(): string {
    if (this.#orderingKey === undefined) this.#readGrouping();
    return this.#orderingKey as string;
  }

  /**
   * The delivery id of this event's delivery number `attempt`
   * (`<sequence>.<attempt>`). The first one is built once and shared, so
   * every subscriber of a broadcast event keys its outstanding deliveries
   * with the same string, hashed once.
   */
  deliveryId(attempt: number): string {
    if (attempt !== 1) return `${this.sequence}.${attempt}`;
    this.#firstDeliveryId ??= `${this.sequence}.1`;
    return this.#firstDeliveryId;
  }

  /** True when the event has an expiry time and it has passed at `nowMs`. */
  isExpired(nowMs: number): boolean {
    return this.expireAtMs !== 0 && this.expireAtMs <= nowMs;
  }

  /** The decoded envelope (decoded on first use, then kept). */
  get event(): Event {
    this.#event ??= Event.decode(this.bytes);
    return this.#event;
  }

  /** Reads priority and ordering key off the wire (see `scanGrouping`), or from the decoded envelope when that is at hand or the scan cannot read the bytes. */
  #readGrouping(): void {
    const scan = GROUPING_SCAN;
    if (this.#event === undefined && scanGrouping(this.bytes, 0, this.bytes.length, scan)) {
      this.#priority = scan.priority;
      this.#orderingKey = scan.keyStart < 0 ? "" : Buffer.from(this.bytes.buffer, this.bytes.byteOffset + scan.keyStart, scan.keyEnd - scan.keyStart).toString("utf8");
      return;
    }
    this.#priority = this.event.priority ?? DEFAULT_PRIORITY;
    this.#orderingKey = this.event.orderingKey;
  }
}
