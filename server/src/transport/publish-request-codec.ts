/**
 * Decoding of `PublishRequest` that keeps each event's own bytes: the
 * request's `events` are decoded one by one from their slices of the
 * request, and the slices are remembered per request, so the bus can store
 * an event as its publisher encoded it instead of encoding it again. Each
 * event is read by the SDK's envelope decoder (the generated codec's
 * objects, with ASCII strings read without a `TextDecoder` call and the
 * strings events repeat decoded once), which falls back to the generated
 * codec for what it does not read.
 */
import { envelopeDecoder } from "@protobus/sdk/internal";
import { type Event, PublishRequest } from "@protobus/sdk/proto";
import { WireType, fieldTag, isStorableEnvelope, readVarint } from "../wire.js";

// `PublishRequest.events` is field 1, length-delimited (one tag byte).
const EVENTS_TAG = fieldTag(1, WireType.LengthDelimited);

/**
 * A request decoded here: the generated codec's `PublishRequest` and the
 * publisher's bytes of each event, carried by the request itself (a
 * WeakMap from requests to them kept one entry per request until the
 * collector cleared it, and each young-generation collection walked them).
 */
class DecodedPublishRequest implements PublishRequest {
  constructor(
    readonly events: Event[],
    readonly encoded: readonly (Uint8Array | undefined)[],
  ) {}
}

// One decoder for every stream: its caches hold the last short value of each repeated string field.
const decodeEnvelope = envelopeDecoder();

/**
 * Decodes a `PublishRequest` as the generated codec does (and throws as it
 * does), remembering each event's encoded bytes where they can be stored
 * as sent. A request with any other field is decoded by the generated codec
 * alone.
 */
export function decodePublishRequest(bytes: Uint8Array): PublishRequest {
  const events: Event[] = [];
  const encoded: (Uint8Array | undefined)[] = [];
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes[pos] !== EVENTS_TAG) return PublishRequest.decode(bytes);
    const read = readVarint(bytes, pos + 1);
    if (read === undefined) return PublishRequest.decode(bytes);
    const length = read[0];
    pos = read[1];
    if (pos + length > bytes.length) return PublishRequest.decode(bytes);
    events.push(decodeEnvelope(buf, pos, pos + length));
    // The bytes to store: a plain view of the request, not a Buffer.
    const slice = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, length);
    encoded.push(isStorableEnvelope(slice) ? slice : undefined);
    pos += length;
  }
  return new DecodedPublishRequest(events, encoded);
}

/** The publisher's encoded events of a request decoded by {@link decodePublishRequest}, in order; undefined for any other. */
export function encodedEvents(request: PublishRequest): readonly (Uint8Array | undefined)[] | undefined {
  return request instanceof DecodedPublishRequest ? request.encoded : undefined;
}
