/**
 * Writes encoded deliveries to a subscriber's stream: one `delivery`
 * response each, or, for a subscriber that opened with `batch_deliveries`,
 * together in `batch` responses of bounded size. Nothing waits to fill a
 * batch: what a pump has ready at once goes out at once.
 */
import { encodeDeliveryBatch } from "./delivery-encoding.js";

/** Most bytes of deliveries put into one batch response (a larger single delivery goes alone). */
export const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * Writes `encoded` (single-delivery `SubscribeResponse` encodings) through
 * `write`. Returns false when the transport reported a full buffer on any
 * write; every delivery is written regardless (the caller bounds how many
 * it passes by the subscriber's window).
 */
export function writeDeliveries(write: (message: Uint8Array) => boolean, encoded: readonly Uint8Array[], batching: boolean): boolean {
  let writable = true;
  if (!batching || encoded.length === 1) {
    for (const message of encoded) if (!write(message)) writable = false;
    return writable;
  }
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < encoded.length; i++) {
    const size = (encoded[i] as Uint8Array).byteLength;
    if (i > start && bytes + size > MAX_BATCH_BYTES) {
      if (!write(encodeDeliveryBatch(encoded.slice(start, i)))) writable = false;
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (start < encoded.length && !write(encodeDeliveryBatch(start === 0 ? encoded : encoded.slice(start)))) writable = false;
  return writable;
}
