// The raw NATS JetStream baselines, written as a NATS user would: async
// publish with many acks outstanding, and a durable pull consumer with
// explicit acks fed by a publisher held at most `budget` events ahead.
import { connect } from "@nats-io/transport-node";
import { AckPolicy, StorageType, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { EVENT_TYPE, payload } from "../lib/event-shape.mjs";

const STREAM = "BENCH";

export async function start({ url, mode, inflight, budget, prefill }) {
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
  if (mode === "drain") {
    // The backlog is stored before the consumer exists; only draining it
    // is counted. Plain publishes into the stream's subject (no per-message
    // ack to wait for), then wait until the stream holds all of them.
    for (let i = 1; i <= prefill; i++) {
      nc.publish(EVENT_TYPE, data);
      if ((i & 1023) === 0) await nc.flush();
    }
    await nc.flush();
    const deadline = Date.now() + 60_000;
    while ((await jsm.streams.info(STREAM)).state.messages < prefill) {
      if (Date.now() > deadline) throw new Error("JetStream did not store the backlog within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
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
    count: () => {
      if (mode === "drain" && consumed >= prefill) throw new Error(`the backlog of ${prefill} events ran out during the measurement; raise prefill`);
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
