// Consumer-group delivery from a backlog: `prefill` events are published
// and acknowledged first, then one group member (SDK handler, acking each
// event) drains them. Only the draining is counted, so the rate is the
// consumer's alone, not the publisher's.
import { createClient } from "@protobus/sdk";
import { openSubscriber } from "./subscribers.mjs";
import { startStreamPublisher } from "./stream-publisher.mjs";

export async function start({ address, prefill, batch, inflight, group, maxInFlight }) {
  const sdk = createClient({ address, source: "bench/loadgen" });
  const publisher = startStreamPublisher({ client: sdk.raw, batch, inflight, total: prefill });
  await publisher.done;
  await publisher.stop();
  let delivered = 0;
  // The group is created by this first open, at the oldest event.
  const subscriber = await openSubscriber({
    api: "sdk",
    sdk,
    group,
    maxInFlight,
    from: "earliest",
    onEvent: () => {
      delivered += 1;
    },
  });
  return {
    count: () => {
      // A window that outlasts the backlog would count idle time as slowness.
      if (delivered >= prefill) throw new Error(`the backlog of ${prefill} events ran out during the measurement; raise prefill`);
      return delivered;
    },
    async stop() {
      subscriber.close();
      sdk.close();
    },
  };
}
