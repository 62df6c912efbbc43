// Publish and deliver through the SDK, where tracing happens: batches of
// 100 through client.publish (a PRODUCER span per event) to a handler
// subscription (a CONSUMER span per event), the publisher held at most
// `budget` events ahead of the handler. With `tracingEndpoint`, this
// process exports its spans there.
import { createClient } from "@protobus/sdk";
import { EVENT_TYPE, payload } from "../lib/event-shape.mjs";
import { startTracingTo } from "../lib/tracing.mjs";
import { openSubscriber } from "./subscribers.mjs";

export async function start({ address, batch, inflight, budget, tracingEndpoint }) {
  const tracing = tracingEndpoint === undefined ? undefined : await startTracingTo(tracingEndpoint, "bench-loadgen");
  const sdk = createClient({ address, source: "bench/loadgen" });
  let delivered = 0;
  let wake;
  const subscriber = await openSubscriber({
    api: "sdk",
    sdk,
    maxInFlight: 1000,
    onEvent: () => {
      delivered += 1;
      if ((delivered & 63) === 0) wake?.();
    },
  });
  const data = payload();
  const inputs = Array.from({ length: batch }, () => ({ type: EVENT_TYPE, data }));
  let published = 0;
  let running = true;
  const loops = Array.from({ length: inflight }, async () => {
    while (running) {
      if (published - delivered >= budget) {
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
    count: () => delivered,
    async stop() {
      running = false;
      await Promise.all(loops);
      subscriber.close();
      sdk.close();
      await tracing?.shutdown();
    },
  };
}
