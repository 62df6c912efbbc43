// End-to-end latency, publish to handler, at a fixed rate. Each event
// carries its intended send time (process.hrtime, monotonic and shared by
// every process of the machine); latency is measured from that instant, not
// from when the publisher got round to sending, so stalls are not hidden
// (coordinated omission).
import { createClient } from "@protobus/sdk";
import { credentials } from "@grpc/grpc-js";
import { EventBusClient } from "@protobus/sdk/proto";
import { EVENT_TYPE, wireEvent } from "../lib/event-shape.mjs";
import { percentile } from "../lib/stats.mjs";
import { openSubscriber } from "./subscribers.mjs";

export async function start({ address, api, rate }) {
  const sdk = api === "sdk" ? createClient({ address, source: "bench/loadgen" }) : undefined;
  const raw = sdk?.raw ?? new EventBusClient(address, credentials.createInsecure());
  let samples = [];
  let recordFrom = Infinity;
  // Intended send times of recorded events not delivered yet.
  const outstanding = new Set();
  let received = 0;
  const subscriber = await openSubscriber({
    api,
    sdk,
    raw,
    onEvent: (event) => {
      const now = process.hrtime.bigint();
      const data = Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength);
      const intended = data.readBigInt64LE(0);
      received += 1;
      if (intended >= recordFrom && outstanding.delete(intended)) samples.push(Number(now - intended) / 1e6);
    },
  });
  let failures = 0;
  const send = (intended) => {
    if (intended >= recordFrom) outstanding.add(intended);
    const data = Buffer.alloc(16);
    data.writeBigInt64LE(intended, 0);
    if (sdk !== undefined) {
      sdk.publish({ type: EVENT_TYPE, data }).catch(() => (failures += 1));
    } else {
      raw.publish({ events: [wireEvent(data)] }, (error) => {
        if (error) failures += 1;
      });
    }
  };
  const intervalNs = BigInt(Math.round(1e9 / rate));
  const origin = process.hrtime.bigint();
  let sent = 0n;
  let running = true;
  const tick = () => {
    if (!running) return;
    const due = (process.hrtime.bigint() - origin) / intervalNs + 1n;
    while (sent < due) {
      send(origin + sent * intervalNs);
      sent += 1n;
    }
    setTimeout(tick, 1);
  };
  tick();
  return {
    count: () => received,
    /** Starts recording latencies of events intended from now on. */
    mark() {
      samples = [];
      outstanding.clear();
      recordFrom = process.hrtime.bigint();
    },
    /** Percentiles (ms) of the latencies recorded since `mark`. */
    latencies() {
      // Events still in flight at the end of the window are late, not lost:
      // count them as lasting at least until now, so stalls cannot hide.
      const now = process.hrtime.bigint();
      const late = outstanding.size;
      for (const intended of outstanding) samples.push(Number(now - intended) / 1e6);
      outstanding.clear();
      const sorted = Float64Array.from(samples).sort();
      recordFrom = Infinity;
      return {
        samples: sorted.length,
        undeliveredAtEnd: late,
        failures,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        p999: percentile(sorted, 99.9),
        max: sorted[sorted.length - 1] ?? Number.NaN,
      };
    },
    async stop() {
      running = false;
      await new Promise((resolve) => setTimeout(resolve, 200));
      subscriber.close();
      if (sdk !== undefined) sdk.close();
      else raw.close();
    },
  };
}
