/**
 * Decoding of `PublishRequest` that keeps each event's own bytes: the
 * request's `events` are decoded one by one from their slices of the
 * request, and the slices are remembered per request, so the bus can store
 * an event as its publisher encoded it instead of encoding it again.
 */
import { Event, PublishRequest } from "@protobus/sdk/proto";
import { WireType, fieldTag, isStorableEnvelope, readVarint } from "../wire.js";

// `PublishRequest.events` is field 1, length-delimited (one tag byte).
const EVENTS_TAG = fieldTag(1, WireType.LengthDelimited);

const encodedOf = new WeakMap<PublishRequest, (Uint8Array | undefined)[]>();

/**
 * Decodes a `PublishRequest` as the generated codec does (and throws as it
 * does), remembering each event's encoded bytes where they can be stored
 * as sent. A request with any other field is decoded by the generated codec
 * alone.
 */
export function decodePublishRequest(bytes: Uint8Array): PublishRequest {
  const events: Event[] = [];
  const encoded: (Uint8Array | undefined)[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes[pos] !== EVENTS_TAG) return PublishRequest.decode(bytes);
    const read = readVarint(bytes, pos + 1);
    if (read === undefined) return PublishRequest.decode(bytes);
    const length = read[0];
    pos = read[1];
    if (pos + length > bytes.length) return PublishRequest.decode(bytes);
    // A plain view, not a Buffer: the decoder cuts every string field out of
    // its input with `subarray`, which on a Buffer runs Buffer's constructor
    // for each. (`data` is copied into a Buffer of its own either way.)
    const slice = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, length);
    events.push(Event.decode(slice));
    encoded.push(isStorableEnvelope(slice) ? slice : undefined);
    pos += length;
  }
  const request: PublishRequest = { events };
  encodedOf.set(request, encoded);
  return request;
}

/** The publisher's encoded events of a request decoded by {@link decodePublishRequest}, in order; undefined for any other. */
export function encodedEvents(request: PublishRequest): readonly (Uint8Array | undefined)[] | undefined {
  return encodedOf.get(request);
}
