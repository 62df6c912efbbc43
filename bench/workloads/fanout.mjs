// Delivery throughput: a stream publisher and `subscribers` subscriptions in
// the load generator. The publisher may run at most `budget` events ahead
// of the slowest subscriber, so both sides measure delivery, not buffering.
import { createClient } from "@protobus/sdk";
import { credentials } from "@grpc/grpc-js";
import { EventBusClient } from "@protobus/sdk/proto";
import { openSubscriber } from "./subscribers.mjs";
import { startStreamPublisher } from "./stream-publisher.mjs";

export async function start({ address, api, subscribers, batch, inflight, budget, group, maxInFlight }) {
  const sdk = api === "sdk" ? createClient({ address, source: "bench/loadgen" }) : undefined;
  const raw = sdk?.raw ?? new EventBusClient(address, credentials.createInsecure());
  const counts = new Array(subscribers).fill(0);
  let total = 0;
  let publisher;
  const opened = [];
  for (let i = 0; i < subscribers; i++) {
    opened.push(
      await openSubscriber({
        api,
        sdk,
        raw,
        group,
        maxInFlight,
        onEvent: () => {
          counts[i] += 1;
          total += 1;
          if ((total & 63) === 0) publisher?.poke();
        },
      }),
    );
  }
  // Group members share the events; broadcast subscribers each get all.
  const delivered = () => (group !== undefined ? total : Math.min(...counts));
  publisher = startStreamPublisher({ client: raw, batch, inflight, canSend: (sent) => sent - delivered() < budget });
  return {
    count: () => total,
    async stop() {
      await publisher.stop();
      for (const subscriber of opened) subscriber.close();
      if (sdk !== undefined) sdk.close();
      else raw.close();
    },
  };
}
