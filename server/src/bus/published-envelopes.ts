/**
 * The publisher's own encoding of each published event, with what the
 * server completes in it, handed to the store so that it stores those
 * bytes as sent (plus the server-set fields) instead of re-encoding.
 */
import type { Event } from "@protobus/sdk/proto";
import type { PublishedEnvelope } from "../storage/stored-event.js";

/** What the store needs to keep each publisher's own encoding (see `PublishOptions.encoded`). */
export function publishedEnvelopes(events: readonly Event[], encoded: readonly (Uint8Array | undefined)[] | undefined): (PublishedEnvelope | undefined)[] | undefined {
  if (encoded === undefined || encoded.length !== events.length) return undefined;
  return events.map((event, i) => {
    const bytes = encoded[i];
    if (bytes === undefined) return undefined;
    return {
      bytes,
      idMissing: event.id === "",
      specVersionMissing: event.specVersion === "",
      priorityMissing: event.priority === undefined,
      schemaVersionSent: event.schemaVersion !== 0,
    };
  });
}
