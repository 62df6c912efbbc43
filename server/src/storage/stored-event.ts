import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Event } from "@protobus/sdk/proto";

// One writer for every encode: its buffer keeps the size it grew to, so an
// envelope is encoded without growing (and copying) a fresh buffer each
// time. `finish()` returns a copy and resets it; encoding is synchronous.
// It keeps at most the size of the largest envelope encoded (a few MB).
const writer = new BinaryWriter();

/** The encoded `protobus.v1.Event`, as a fresh exact-size copy. */
export function encodeEnvelope(event: Event): Uint8Array {
  return Event.encode(event, writer).finish();
}

/**
 * An accepted event as a backend keeps it: its sequence and type (the keys
 * every reader needs) and its encoded envelope with the server-set fields
 * filled in. The envelope is encoded once, when it is accepted, and decoded
 * only when someone asks for `event`; deliveries send `bytes` as they are.
 */
export class StoredEvent {
  #event: Event | undefined;

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
  ) {
    this.#event = event;
  }

  /** Builds a stored event from an accepted envelope whose server fields are set. */
  static fromEvent(event: Event): StoredEvent {
    return new StoredEvent(event.sequence, event.type, encodeEnvelope(event), event.expireTime?.getTime() ?? 0, event);
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
}
