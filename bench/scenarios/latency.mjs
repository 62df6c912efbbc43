// End-to-end latency publish → handler at a fixed 2,000 events/s, measured
// from each event's intended send time (coordinated omission corrected).
import { protobus, rawGrpc } from "./sides.mjs";

// The SDK side publishes with unary calls (`batching: false`), as it did
// before the batching publisher, so that this series stays comparable;
// sdk-batching-latency measures the batching publisher.
const shape = { workload: "latency", options: { rate: 2000, batching: false } };

export const e2eLatency = {
  name: "e2e-latency",
  title: "End-to-end latency publish → handler at 2,000 events/s, SQLite store",
  kind: "latency",
  unit: "ms",
  windowFactor: 2,
  // A smoke run only proves the path works; at full rate a busy machine backs it up for minutes.
  smokeOptions: { rate: 200 },
  target: {
    text: "p99 ≤3 ms, p99.9 ≤8 ms",
    check: ({ subject }) => subject.p99.median <= 3 && subject.p999.median <= 8,
  },
  subject: protobus({ store: "sqlite", ...shape, label: "protobus" }),
  baseline: rawGrpc({ ...shape, label: "raw grpc-js unary → server stream" }),
};
