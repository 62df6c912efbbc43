// The cost of security on the publish path: PublishStream of 100 events per
// message on the memory store with TLS and token authentication on (and a
// policy deciding every event), against the same with both off, in the same
// run.
import { protobus, ratioAtLeast } from "./sides.mjs";

const STREAM_100 = { mode: "stream", batch: 100, inflight: 8 };

export const stream100MemorySecure = {
  name: "stream-100-memory-secure",
  title: "PublishStream 100/msg, memory store: TLS + token auth + policy on vs both off",
  unit: "events/s",
  target: ratioAtLeast(0.8),
  subject: protobus({ store: "memory", config: { secure: true }, workload: "publish", options: STREAM_100, label: "protobus TLS + token" }),
  baseline: protobus({ store: "memory", workload: "publish", options: STREAM_100, label: "protobus plaintext, no auth" }),
};
