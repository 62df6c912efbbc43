// Reliable producers: the SDK's batching publisher against the stream and
// unary paths, its end-to-end latency against a raw grpc-js stream, and the
// transactional outbox against committing and then publishing.
import { protobus, rawGrpc, ratioAtLeast } from "./sides.mjs";
import { LATENCY_WARMUP_FACTOR } from "./latency.mjs";

const CONCURRENT = { workload: "publish", options: { mode: "batching", batch: 1, inflight: 256 } };

export const sdkPublishConcurrent = {
  name: "sdk-publish-concurrent",
  title: "SDK publish() of 1 event, 256 calls in flight (batching publisher) against PublishStream 100/msg, memory store",
  unit: "events/s",
  target: ratioAtLeast(0.5),
  subject: protobus({ store: "memory", ...CONCURRENT, label: "protobus SDK publish()" }),
  baseline: protobus({ store: "memory", workload: "publish", options: { mode: "stream", batch: 100, inflight: 8 }, label: "protobus PublishStream 100/msg" }),
};

export const sdkPublishVsUnary = {
  name: "sdk-publish-vs-unary",
  title: "SDK publish() of 1 event, 256 calls in flight: batching publisher against batching: false, memory store",
  unit: "events/s",
  subject: protobus({ store: "memory", ...CONCURRENT, label: "protobus SDK publish()" }),
  baseline: protobus({ store: "memory", workload: "publish", options: { mode: "unary", batch: 1, inflight: 256 }, label: "protobus SDK unary" }),
};

export const sdkBatchingLatency = {
  name: "sdk-batching-latency",
  title: "End-to-end latency publish → handler at 2,000 events/s through the batching publisher, SQLite store",
  kind: "latency",
  unit: "ms",
  windowFactor: 2,
  warmupFactor: LATENCY_WARMUP_FACTOR,
  smokeOptions: { rate: 200 },
  target: {
    text: "p99 ≤1.5x the raw stream's p99",
    check: ({ subject, baseline }) => subject.p99.median <= 1.5 * baseline.p99.median,
  },
  subject: protobus({ store: "sqlite", workload: "latency", options: { rate: 2000, batching: true }, label: "protobus SDK batching publisher" }),
  baseline: rawGrpc({ workload: "latency", options: { rate: 2000, publishMode: "stream" }, label: "raw grpc-js PublishStream → server stream" }),
};

export const outboxPostgres = {
  name: "outbox-postgres",
  title: "Outbox on PostgreSQL, transaction commit → stored on the server, 16 writers, SQLite store",
  unit: "events/s",
  requires: ["postgres"],
  target: ratioAtLeast(2),
  subject: protobus({ store: "sqlite", workload: "outbox", options: { writers: 16, mode: "outbox" }, label: "outbox + relay" }),
  baseline: protobus({ store: "sqlite", workload: "outbox", options: { writers: 16, mode: "naive" }, label: "commit, then await a unary publish" }),
};
