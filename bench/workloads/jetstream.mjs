// The raw NATS JetStream baselines, written as a NATS user would: async
// publish with many acks outstanding, and a durable pull consumer with
// explicit acks fed by a publisher held at most `budget` events ahead.
import { connect } from "@nats-io/transport-node";
import { AckPolicy, StorageType, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { EVENT_TYPE, payload } from "../lib/event-shape.mjs";
import { PROBE_EVENTS, backlogSize, timeDrain } from "../lib/backlog.mjs";

const STREAM = "BENCH";

/** Publishes `count` events into the stream's subject (no per-message ack), then waits until it holds `stored`. */
async function fill(nc, jsm, data, count, stored) {
  for (let i = 1; i <= count; i++) {
    nc.publish(EVENT_TYPE, data);
    if ((i & 1023) === 0) await nc.flush();
  }
  await nc.flush();
  const deadline = Date.now() + 60_000;
  while ((await jsm.streams.info(STREAM)).state.messages < stored) {
    if (Date.now() > deadline) throw new Error("JetStream did not store the backlog within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Drains the first `probe` messages with a durable consumer of its own, acking each; resolves to its rate, then deletes it. */
async function probeRate(jsm, js, probe) {
  await jsm.consumers.add(STREAM, { durable_name: "bench-probe", ack_policy: AckPolicy.Explicit });
  const consumer = await js.consumers.get(STREAM, "bench-probe");
  const messages = await consumer.consume({ max_messages: 1000 });
  let consumed = 0;
  const consuming = (async () => {
    for await (const message of messages) {
      message.ack();
      consumed += 1;
      if (consumed >= probe) break;
    }
  })();
  try {
    return await timeDrain({ total: probe, delivered: () => consumed });
  } finally {
    messages.stop();
    await consuming;
    await jsm.consumers.delete(STREAM, "bench-probe");
  }
}

export async function start({ url, mode, inflight, budget, prefill, measureSeconds = 3 }) {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(STREAM).catch(() => undefined);
  await jsm.streams.add({ name: STREAM, subjects: ["bench.>"], storage: StorageType.File });
  const js = jetstream(nc);
  const data = payload();
  let published = 0;
  let consumed = 0;
  let running = true;
  let consumerMessages;
  let probeSummary;
  let backlog = prefill;
  if (mode === "drain") {
    // The backlog is stored before the consumer exists; only draining it
    // is counted. Its size comes from a probe drained by a consumer of its
    // own (bench/lib/backlog.mjs).
    const probe = Math.min(PROBE_EVENTS, prefill);
    await fill(nc, jsm, data, probe, probe);
    const rate = await probeRate(jsm, js, probe);
    backlog = backlogSize({ rate, measureSeconds, minimum: prefill });
    probeSummary = { backlog, probeRate: Math.round(rate) };
    await fill(nc, jsm, data, backlog - probe, backlog);
  }
  if (mode === "consume" || mode === "drain") {
    await jsm.consumers.add(STREAM, { durable_name: "bench", ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get(STREAM, "bench");
    consumerMessages = await consumer.consume({ max_messages: 1000 });
  }
  let wake;
  const consuming = (async () => {
    if (consumerMessages === undefined) return;
    for await (const message of consumerMessages) {
      message.ack();
      consumed += 1;
      if ((consumed & 63) === 0) wake?.();
    }
  })();
  // `inflight` publishers, each awaiting its ack; held back by the budget.
  const loops = Array.from({ length: mode === "drain" ? 0 : inflight }, async () => {
    while (running) {
      if (mode === "consume" && published - consumed >= budget) {
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, 5);
        });
        continue;
      }
      await js.publish(EVENT_TYPE, data);
      published += 1;
    }
  });
  return {
    summary: () => probeSummary,
    count: () => {
      if (mode === "drain" && consumed >= backlog) {
        throw new Error(`the backlog of ${backlog} events (sized from a probe at ${probeSummary?.probeRate}/s) ran out during the measurement`);
      }
      return mode === "publish" ? published : consumed;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      consumerMessages?.stop();
      await consuming;
      await nc.drain();
    },
  };
}
