// Consumer-group delivery with acks on SQLite against a JetStream durable
// pull consumer with explicit acks: live, each fed by a publisher held at
// most `budget` events ahead of the consumer (group-sqlite), and draining a
// backlog stored before the consumer starts (group-sqlite-drain), which
// measures the consumer alone.
import { protobus, ratioAtLeast, rawJetStream } from "./sides.mjs";

export const groupSqlite = {
  name: "group-sqlite",
  title: "Consumer group, 1 member, acks, SQLite store, fed live by a stream publisher 100/msg",
  unit: "events/s",
  requires: ["nats-server"],
  target: ratioAtLeast(1.5),
  subject: protobus({
    store: "sqlite",
    workload: "fanout",
    // 16 requests of 100 in flight so that the feed, bound by each publish's
    // commit round trip, is not what is measured (the JetStream publisher
    // keeps 256 single publishes in flight).
    options: { subscribers: 1, group: "bench", maxInFlight: 1000, batch: 100, inflight: 16, budget: 5000 },
    label: "protobus",
  }),
  baseline: rawJetStream({ options: { mode: "consume", inflight: 256, budget: 5000 }, label: "raw JetStream pull consumer + ack" }),
};

export const groupSqliteDrain = {
  name: "group-sqlite-drain",
  title: "Consumer group, 1 member, acks, SQLite store, draining a backlog",
  unit: "events/s",
  requires: ["nats-server"],
  target: ratioAtLeast(1.5),
  subject: protobus({
    store: "sqlite",
    workload: "drain",
    options: { prefill: 300_000, batch: 100, inflight: 8, group: "bench", maxInFlight: 1000 },
    label: "protobus",
  }),
  baseline: rawJetStream({ options: { mode: "drain", prefill: 300_000 }, label: "raw JetStream pull consumer + ack" }),
};
