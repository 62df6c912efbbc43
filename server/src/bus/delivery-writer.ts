/**
 * Writes encoded deliveries to a subscriber's stream: one `delivery`
 * response each, or, for a subscriber that opened with `batch_deliveries`,
 * together in `batch` responses of bounded size. Nothing waits to fill a
 * batch: what a pump has ready at once goes out at once.
 */
import { batchEntrySize, encodeDeliveryBatch, encodeUniqueDelivery, encodeUniqueDeliveryBatch, type UniqueDelivery } from "./delivery-encoding.js";

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
  return writeInRuns(
    encoded.length,
    (i) => (encoded[i] as Uint8Array).byteLength,
    (start, end) => write(encodeDeliveryBatch(start === 0 && end === encoded.length ? encoded : encoded.slice(start, end))),
  );
}

/**
 * Writes deliveries only this subscriber sends (a consumer group's) through
 * `write`, encoded straight from their stored envelopes: batch responses of
 * at most {@link MAX_BATCH_BYTES} (a larger single delivery goes alone), or
 * one `delivery` response each without batching. Same return value as
 * {@link writeDeliveries}.
 */
export function writeUniqueDeliveries(write: (message: Uint8Array) => boolean, deliveries: readonly UniqueDelivery[], batching: boolean): boolean {
  let writable = true;
  if (!batching || deliveries.length === 1) {
    for (const { stored, deliveryId, attempt } of deliveries) if (!write(encodeUniqueDelivery(stored, deliveryId, attempt))) writable = false;
    return writable;
  }
  const sizes = deliveries.map(batchEntrySize);
  return writeInRuns(
    deliveries.length,
    (i) => sizes[i] as number,
    (start, end) => write(encodeUniqueDeliveryBatch(deliveries, sizes, start, end)),
  );
}

/**
 * Splits `count` deliveries of `size(i)` bytes into runs of at most
 * {@link MAX_BATCH_BYTES} (a larger single delivery makes a run alone) and
 * writes each run `[start, end)` with `writeRun`. Returns false when any
 * write reported a full buffer; every run is written regardless.
 */
function writeInRuns(count: number, size: (i: number) => number, writeRun: (start: number, end: number) => boolean): boolean {
  let writable = true;
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const entry = size(i);
    if (i > start && bytes + entry > MAX_BATCH_BYTES) {
      if (!writeRun(start, i)) writable = false;
      start = i;
      bytes = 0;
    }
    bytes += entry;
  }
  if (start < count && !writeRun(start, count)) writable = false;
  return writable;
}
