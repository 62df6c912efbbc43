// Publish throughput: unary calls and client streams of 1 and 100 events
// per message, on the memory and SQLite stores, against a raw grpc-js
// server answering the same messages with nothing behind it.
import { protobus, rateAndRatioAtLeast, ratioAtLeast, rawGrpc } from "./sides.mjs";

const UNARY = { workload: "publish", options: { mode: "unary", batch: 1, inflight: 32 } };
const STREAM_1 = { workload: "publish", options: { mode: "stream", batch: 1, inflight: 512 } };
const STREAM_100 = { workload: "publish", options: { mode: "stream", batch: 100, inflight: 8 } };

export const unaryPublish = {
  name: "unary-publish",
  title: "Unary Publish of 1 event, 32 calls in flight, memory store",
  unit: "events/s",
  subject: protobus({ store: "memory", ...UNARY, label: "protobus" }),
  baseline: rawGrpc({ ...UNARY, label: "raw grpc-js unary" }),
};

function stream(batch, shape, store, target) {
  return {
    name: `stream-${batch}-${store}`,
    title: `PublishStream, ${batch} event${batch === 1 ? "" : "s"} per message, ${store} store`,
    unit: "events/s",
    ...(target !== undefined ? { target } : {}),
    subject: protobus({ store, ...shape, label: "protobus" }),
    baseline: rawGrpc({ ...shape, label: `raw grpc-js client stream ${batch}/msg` }),
  };
}

export const stream1Memory = stream(1, STREAM_1, "memory");
export const stream1Sqlite = stream(1, STREAM_1, "sqlite");
export const stream100Memory = stream(100, STREAM_100, "memory", ratioAtLeast(0.6));
export const stream100Sqlite = stream(100, STREAM_100, "sqlite", rateAndRatioAtLeast(150_000, 0.4));

/**
 * The SQLite store held at a byte bound by retention (`--sqlite-max-bytes`,
 * 8 MiB: reached within the warm-up), so that each publish also deletes as
 * many of the oldest events as it stores, against the same store without a
 * bound. Deleting an event costs about what storing it does.
 */
export const stream100SqliteRetention = {
  name: "stream-100-sqlite-retention",
  title: "PublishStream, 100 events per message, sqlite store held at 8 MiB by retention",
  unit: "events/s",
  target: ratioAtLeast(0.5),
  subject: protobus({ store: "sqlite", config: { sqliteMaxBytes: 8 * 2 ** 20 }, ...STREAM_100, label: "protobus, retention at 8 MiB" }),
  baseline: protobus({ store: "sqlite", ...STREAM_100, label: "protobus, no retention" }),
};
