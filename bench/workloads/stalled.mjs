// A subscriber whose handler never finishes, while `total` events are
// published: the server must hold back (max_in_flight) instead of buffering
// every event for it.
import { createClient } from "@protobus/sdk";
import { openSubscriber } from "./subscribers.mjs";
import { startStreamPublisher } from "./stream-publisher.mjs";

export async function start({ address, total, batch, inflight, timeoutMs }) {
  const sdk = createClient({ address, source: "bench/loadgen" });
  let received = 0;
  const subscriber = await openSubscriber({
    api: "sdk",
    sdk,
    handler: () => {
      received += 1;
      return new Promise(() => undefined);
    },
  });
  const publisher = startStreamPublisher({ client: sdk.raw, batch, inflight, total });
  const started = performance.now();
  // A bounded run on a busy machine: report how far it got.
  await Promise.race([publisher.done, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  const seconds = (performance.now() - started) / 1000;
  await publisher.stop();
  return {
    count: () => publisher.acked,
    summary: () => ({ published: publisher.acked, receivedByStalledSubscriber: received, publishSeconds: seconds }),
    async stop() {
      subscriber.close();
      sdk.close();
    },
  };
}
