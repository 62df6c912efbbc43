// End-to-end latency publish → handler at a fixed 2,000 events/s, measured
// from each event's intended send time (coordinated omission corrected),
// with a unary publisher and with a streaming one. Absolute milliseconds do
// not hold on a shared machine, so the target is a ratio: protobus's p99 at
// most 1.2x the raw grpc-js baseline's p99 of the same shape, same run.
import { protobus, rawGrpc } from "./sides.mjs";

/** Target: p99 at most `max` times the baseline's p99. */
function p99AtMost(max) {
  return {
    text: `p99 ≤${max}x the baseline's p99`,
    check: ({ subject, baseline }) => subject.p99.median <= max * baseline.p99.median,
  };
}

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
  target: p99AtMost(1.2),
  subject: protobus({ store: "sqlite", ...shape, label: "protobus" }),
  baseline: rawGrpc({ ...shape, label: "raw grpc-js unary → server stream" }),
};

const streamShape = { workload: "latency", options: { rate: 2000, publishMode: "stream" } };

export const e2eLatencyStream = {
  name: "e2e-latency-stream",
  title: "End-to-end latency publish → handler at 2,000 events/s, one PublishStream (1 event per request), SQLite store",
  kind: "latency",
  unit: "ms",
  windowFactor: 2,
  smokeOptions: { rate: 200 },
  target: p99AtMost(1.2),
  subject: protobus({ store: "sqlite", ...streamShape, label: "protobus" }),
  baseline: rawGrpc({ ...streamShape, label: "raw grpc-js PublishStream → server stream" }),
};
