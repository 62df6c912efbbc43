// Consumer-group delivery from a backlog: events are published and
// acknowledged first, then one group member (SDK handler, acking each
// event) drains them. Only the draining is counted, so the rate is the
// consumer's alone, not the publisher's. The backlog is sized from a probe
// (bench/lib/backlog.mjs), so it cannot run out on a faster machine; if it
// still does, the measurement fails instead of counting idle time.
import { createClient } from "@protobus/sdk";
import { openSubscriber } from "./subscribers.mjs";
import { startStreamPublisher } from "./stream-publisher.mjs";
import { PROBE_EVENTS, backlogSize, timeDrain } from "../lib/backlog.mjs";

async function publish(sdk, { batch, inflight, total }) {
  const publisher = startStreamPublisher({ client: sdk.raw, batch, inflight, total });
  await publisher.done;
  await publisher.stop();
}

/** Drains the first `probe` events with a group of its own; resolves to its rate. */
async function probeRate(sdk, { probe, maxInFlight }) {
  let delivered = 0;
  const subscriber = await openSubscriber({
    api: "sdk",
    sdk,
    group: "bench-probe",
    maxInFlight,
    from: "earliest",
    onEvent: () => {
      delivered += 1;
    },
  });
  try {
    return await timeDrain({ total: probe, delivered: () => delivered });
  } finally {
    subscriber.close();
  }
}

export async function start({ address, prefill, batch, inflight, group, maxInFlight, measureSeconds = 3 }) {
  const sdk = createClient({ address, source: "bench/loadgen" });
  const probe = Math.ceil(Math.min(PROBE_EVENTS, prefill) / batch) * batch;
  await publish(sdk, { batch, inflight, total: probe });
  const rate = await probeRate(sdk, { probe, maxInFlight });
  // Whole requests of `batch` events: the publisher sends no partial one.
  const backlog = Math.ceil(backlogSize({ rate, measureSeconds, minimum: prefill }) / batch) * batch;
  if (backlog > probe) await publish(sdk, { batch, inflight, total: backlog - probe });
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
    summary: () => ({ backlog, probeRate: Math.round(rate) }),
    count: () => {
      // A window that outlasts the backlog would count idle time as slowness.
      if (delivered >= backlog) throw new Error(`the backlog of ${backlog} events (sized from a probe at ${Math.round(rate)}/s) ran out during the measurement`);
      return delivered;
    },
    async stop() {
      subscriber.close();
      sdk.close();
    },
  };
}
