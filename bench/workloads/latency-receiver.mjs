// The receiving half of the latency workload, run in a load generator
// process of its own (as the consumer of a real system would be): it
// subscribes and records, for each event, how long after its intended send
// time (stamped into the payload by the publisher) the handler got it.
import { createClient } from "@protobus/sdk";
import { credentials } from "@grpc/grpc-js";
import { EventBusClient } from "@protobus/sdk/proto";
import { openSubscriber } from "./subscribers.mjs";

export async function start({ address, api }) {
  const sdk = api === "sdk" ? createClient({ address, source: "bench/loadgen" }) : undefined;
  const raw = sdk?.raw ?? new EventBusClient(address, credentials.createInsecure());
  let received = 0;
  let recordFrom = Infinity;
  // Intended send time (ns, as a decimal string) → latency (ms) of events recorded since `mark`.
  let arrivals = new Map();
  const subscriber = await openSubscriber({
    api,
    sdk,
    raw,
    onEvent: (event) => {
      const now = process.hrtime.bigint();
      const data = Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength);
      const intended = data.readBigInt64LE(0);
      received += 1;
      if (intended >= recordFrom) arrivals.set(String(intended), Number(now - intended) / 1e6);
    },
  });
  return {
    count: () => received,
    /** Records events intended at or after `from` (ns, decimal string). */
    mark({ from }) {
      arrivals = new Map();
      recordFrom = BigInt(from);
    },
    /** What was recorded since `mark`, as [intended, latency ms] pairs; recording stops. */
    arrivals() {
      recordFrom = Infinity;
      const out = [...arrivals];
      arrivals = new Map();
      return out;
    },
    async stop() {
      subscriber.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (sdk !== undefined) sdk.close();
      else raw.close();
    },
  };
}
