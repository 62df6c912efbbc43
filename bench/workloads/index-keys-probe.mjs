// The probe half of the index-keys workload, in a process of its own so
// that building the publishers' requests does not hold up its timers: it
// calls GetBusInfo every 20 ms on a connection of its own and times each
// answer from `mark` on.
import { credentials } from "@grpc/grpc-js";
import { EventBusClient } from "@protobus/sdk/proto";
import { percentile } from "../lib/stats.mjs";

const PROBE_EVERY_MS = 20;

export async function start({ address }) {
  const client = new EventBusClient(address, credentials.createInsecure());
  let running = true;
  let recording = false;
  let samples = [];
  let failures = 0;
  const probing = (async () => {
    while (running) {
      const started = process.hrtime.bigint();
      await new Promise((resolve) =>
        client.getBusInfo({}, (error) => {
          if (error) failures += 1;
          resolve();
        }),
      );
      if (recording) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
    }
  })();
  return {
    count: () => samples.length,
    mark() {
      samples = [];
      recording = true;
      return {};
    },
    latencies() {
      const sorted = Float64Array.from(samples).sort();
      return {
        samples: sorted.length,
        failures,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        p999: percentile(sorted, 99.9),
        max: sorted[sorted.length - 1] ?? Number.NaN,
      };
    },
    async stop() {
      running = false;
      await probing;
      client.close();
    },
  };
}
