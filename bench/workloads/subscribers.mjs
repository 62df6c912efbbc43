// Subscribers of the load generator: through the protobus SDK (handler form,
// acking each event) or through the generated grpc-js client (counting raw
// deliveries, as a plain gRPC server-stream consumer would).
import { EVENT_PATTERN } from "../lib/event-shape.mjs";

/**
 * Opens one subscription and resolves once the server confirmed it.
 * `onEvent(event)` runs for each delivery; `handler` (SDK only) replaces the
 * default acking handler, e.g. with one that never settles. `from` is
 * `latest` (default) or `earliest`.
 */
export async function openSubscriber({ api, sdk, raw, group, maxInFlight, from = "latest", onEvent, handler }) {
  if (api === "sdk") {
    const options = { from, ...(group !== undefined ? { group } : {}), ...(maxInFlight !== undefined ? { maxInFlight } : {}) };
    const subscription = sdk.subscribe(EVENT_PATTERN, handler ?? ((event) => onEvent(event)), options);
    await subscription.opened();
    return { close: () => subscription.close() };
  }
  const call = raw.subscribe();
  await new Promise((resolve, reject) => {
    call.on("data", (response) => {
      const message = response.response;
      if (message?.$case === "delivery") onEvent(message.delivery.event);
      else if (message?.$case === "opened") resolve();
    });
    call.on("error", (error) => {
      if (error.code !== 1) reject(error);
    });
    call.write({
      request: {
        $case: "open",
        open: {
          patterns: [EVENT_PATTERN],
          group: group ?? "",
          start: { position: from === "earliest" ? { $case: "earliest", earliest: {} } : { $case: "latest", latest: {} } },
          maxInFlight: maxInFlight ?? 0,
          manualCredit: false,
          filter: "",
        },
      },
    });
  });
  return { close: () => call.cancel() };
}
