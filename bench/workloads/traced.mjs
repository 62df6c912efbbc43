// Publish through the SDK, where tracing happens: batches of 100 through
// client.publish (one PRODUCER span per call, its context written into
// every envelope), `inflight` calls outstanding; the count is of acknowledged
// events. With `subscribe`, a handler subscription in the same process also
// runs (a CONSUMER span per event), the publisher held at most `budget`
// events ahead of it, and the count is of handled events. With
// `tracingEndpoint`, this process exports its spans there.
import { createClient } from "@protobus/sdk";
import { EVENT_TYPE, payload } from "../lib/event-shape.mjs";
import { startTracingTo } from "../lib/tracing.mjs";
import { openSubscriber } from "./subscribers.mjs";

export async function start({ address, batch, inflight, budget, tracingEndpoint, subscribe = true }) {
  const tracing = tracingEndpoint === undefined ? undefined : await startTracingTo(tracingEndpoint, "bench-loadgen");
  const sdk = createClient({ address, source: "bench/loadgen" });
  let delivered = 0;
  let wake;
  const subscriber = subscribe
    ? await openSubscriber({
        api: "sdk",
        sdk,
        maxInFlight: 1000,
        onEvent: () => {
          delivered += 1;
          if ((delivered & 63) === 0) wake?.();
        },
      })
    : undefined;
  const data = payload();
  const inputs = Array.from({ length: batch }, () => ({ type: EVENT_TYPE, data }));
  let published = 0;
  let running = true;
  const loops = Array.from({ length: inflight }, async () => {
    while (running) {
      if (subscriber !== undefined && published - delivered >= budget) {
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, 5);
        });
        continue;
      }
      await sdk.publish(inputs);
      published += batch;
    }
  });
  return {
    count: () => (subscriber !== undefined ? delivered : published),
    async stop() {
      running = false;
      await Promise.all(loops);
      subscriber?.close();
      sdk.close();
      await tracing?.shutdown();
    },
  };
}
