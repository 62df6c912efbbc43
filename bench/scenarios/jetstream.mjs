// protobus on its JetStream store against raw JetStream, each on its own
// `nats-server -js` started for the measurement (free port, temporary store).
import { protobus, ratioAtLeast, rawJetStream } from "./sides.mjs";

function onJetStream(side) {
  return { ...side, server: { ...side.server, nats: true, configFor: (natsUrl) => ({ natsUrl }) } };
}

export const jetstreamPublish = {
  name: "jetstream-publish",
  title: "PublishStream 100/msg on the JetStream store vs raw JetStream async publish",
  unit: "events/s",
  requires: ["nats-server", "jetstream-store"],
  target: ratioAtLeast(0.8),
  subject: onJetStream(
    protobus({ store: "jetstream", workload: "publish", options: { mode: "stream", batch: 100, inflight: 8 }, label: "protobus" }),
  ),
  // 256 acks outstanding: faster here than 64 or 800 (measured 21k vs 15k/s at 800).
  baseline: rawJetStream({ options: { mode: "publish", inflight: 256 }, label: "raw JetStream async publish" }),
};

export const jetstreamGroup = {
  name: "jetstream-group",
  title: "Consumer group, 1 member, acks, on the JetStream store vs raw JetStream pull consumer",
  unit: "events/s",
  requires: ["nats-server", "jetstream-store"],
  subject: onJetStream(
    protobus({
      store: "jetstream",
      workload: "fanout",
      options: { subscribers: 1, group: "bench", maxInFlight: 1000, batch: 100, inflight: 4, budget: 5000 },
      label: "protobus",
    }),
  ),
  baseline: rawJetStream({ options: { mode: "consume", inflight: 256, budget: 5000 }, label: "raw JetStream pull consumer + ack" }),
};
