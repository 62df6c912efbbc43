// End-to-end latency, publish to handler, at a fixed rate. Each event
// carries its intended send time (process.hrtime, monotonic and shared by
// every process of the machine); latency is measured from that instant, not
// from when the publisher got round to sending, so stalls are not hidden
// (coordinated omission).
//
// The schedule is laid out in whole milliseconds of the monotonic clock, the
// resolution of Node's timers: the events due in one millisecond (2 at
// 2,000/s) share that millisecond's start as their intended time and are
// sent together when the timer fires. A schedule with sub-millisecond
// intended times (one every 0.5 ms) cannot be kept by a 1 ms timer, and
// made up to a millisecond of every sample the load generator's own
// waiting. How late the generator actually sent (intended → handed to the
// client) is recorded apart, so that a generator that cannot keep the rate
// shows as such instead of as latency of the system under test.
//
// The subscriber runs in a load generator process of its own
// (latency-receiver.mjs), as a consumer would in a real system: in the
// publisher's process every delivery waited behind the publisher's own work
// (a unary call costs its client a few hundred µs of CPU), which measured
// the load generator, not the platform.
import { createClient } from "@protobus/sdk";
import { credentials } from "@grpc/grpc-js";
import { EventBusClient } from "@protobus/sdk/proto";
import { EVENT_TYPE, wireEvent } from "../lib/event-shape.mjs";
import { startRole } from "../lib/procs.mjs";
import { percentile } from "../lib/stats.mjs";

export async function start({ address, api, rate, batching = false, publishMode = "unary" }) {
  const receiver = await startRole("loadgen", {}, "latency-receiver");
  await receiver.call("start", { workload: "latency-receiver", options: { address, api } });
  // `batching`: the SDK's batching publisher (one PublishStream); otherwise unary calls.
  const sdk = api === "sdk" ? createClient({ address, source: "bench/loadgen", ...(batching ? {} : { batching: false }) }) : undefined;
  const raw = sdk?.raw ?? new EventBusClient(address, credentials.createInsecure());
  let recordFrom = Infinity;
  // Intended send times of the events sent since `mark`.
  let recorded = [];
  let failures = 0;
  // intended → sent (ms) of recorded events, and how many were sent.
  let sendLags = [];
  // `publishMode: "stream"`: one PublishStream, one event per request, sent at once (on either side;
  // on the protobus side through the SDK client's generated stub, with the SDK subscriber receiving).
  const stream = publishMode === "stream" ? raw.publishStream() : undefined;
  stream?.on("data", () => undefined);
  stream?.on("error", () => (failures += 1));
  const send = (intended) => {
    if (intended >= recordFrom) {
      recorded.push(intended);
      sendLags.push(Number(process.hrtime.bigint() - intended) / 1e6);
    }
    const data = Buffer.alloc(16);
    data.writeBigInt64LE(intended, 0);
    if (stream !== undefined) {
      stream.write({ events: [wireEvent(data)] });
    } else if (sdk !== undefined) {
      sdk.publish({ type: EVENT_TYPE, data }).catch(() => (failures += 1));
    } else {
      raw.publish({ events: [wireEvent(data)] }, (error) => {
        if (error) failures += 1;
      });
    }
  };
  // Event i is due at origin + floor(i * 1000 / rate) ms; origin is a whole
  // millisecond of the monotonic clock, as the timers count them.
  const msNs = 1_000_000n;
  const origin = (process.hrtime.bigint() / msNs + 1n) * msNs;
  let sent = 0;
  let running = true;
  // Intended times are also the subscriber's keys, so events of one
  // millisecond are told apart by their index in it, in nanoseconds.
  const intendedOf = (i) => {
    const millisecond = Math.floor((i * 1000) / rate);
    const firstOfMillisecond = Math.ceil((millisecond * rate) / 1000);
    return origin + BigInt(millisecond) * msNs + BigInt(i - firstOfMillisecond);
  };
  const tick = () => {
    if (!running) return;
    const now = process.hrtime.bigint();
    // Events whose millisecond has begun: i * 1000 / rate < elapsed + 1.
    const due = now < origin ? 0 : Math.ceil(((Number((now - origin) / msNs) + 1) * rate) / 1000);
    while (sent < due) {
      send(intendedOf(sent));
      sent += 1;
    }
    setTimeout(tick, 1);
  };
  tick();
  return {
    /** Events the receiver's handler got. */
    count: async () => (await receiver.call("snapshot")).count,
    /** Pids of the processes the workload runs besides the load generator. */
    summary: () => ({ pids: [receiver.pid] }),
    /** Starts recording latencies of events intended from now on. */
    async mark() {
      const from = process.hrtime.bigint();
      await receiver.call("invoke", { method: "mark", args: { from: String(from) } });
      recorded = [];
      sendLags = [];
      recordFrom = from;
    },
    /** Percentiles (ms) of the latencies recorded since `mark`. */
    async latencies() {
      recordFrom = Infinity;
      const arrivals = new Map(await receiver.call("invoke", { method: "arrivals" }));
      // Events still in flight at the end of the window are late, not lost:
      // count them as lasting at least until now, so stalls cannot hide.
      const now = process.hrtime.bigint();
      const samples = new Float64Array(recorded.length);
      let late = 0;
      recorded.forEach((intended, i) => {
        const latency = arrivals.get(String(intended));
        if (latency === undefined) late += 1;
        samples[i] = latency ?? Number(now - intended) / 1e6;
      });
      const sorted = samples.sort();
      const lags = Float64Array.from(sendLags).sort();
      return {
        samples: sorted.length,
        undeliveredAtEnd: late,
        failures,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        p999: percentile(sorted, 99.9),
        max: sorted[sorted.length - 1] ?? Number.NaN,
        // The load generator's own lateness: intended time → handed to the client.
        sent: lags.length,
        sendLagP50: percentile(lags, 50),
        sendLagP99: percentile(lags, 99),
        sendLagMax: lags[lags.length - 1] ?? Number.NaN,
      };
    },
    async stop() {
      running = false;
      await new Promise((resolve) => setTimeout(resolve, 200));
      stream?.end();
      if (sdk !== undefined) await sdk.close();
      else raw.close();
      await receiver.call("stop").catch(() => undefined);
      await receiver.stop();
    },
  };
}
