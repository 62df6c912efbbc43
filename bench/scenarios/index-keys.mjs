// What another client waits while the server writes events whose index
// keys are random: 4 connections publish requests of 200 events, each with
// 64 random tags of 256 characters and a random correlation id of 1,024
// (3.5 MB a request, the longest keys a client may send by default), to a
// SQLite store, while a probe on a connection of its own calls GetBusInfo
// every 20 ms. The latency is the probe's round trip. The baseline is the
// same server and the same bytes, with keys as an application's are: tags
// that repeat and correlation ids that grow in order. A write of one
// request is never split, so the probe waits behind it: random keys cost
// the store more per event (each goes into a random page of an index), and
// the target bounds how much more the probe waits for it.
import { protobus } from "./sides.mjs";

const shape = { workload: "index-keys", options: { connections: 4, batch: 200 } };

export const indexKeysFlood = {
  name: "index-keys-flood",
  title: "GetBusInfo latency while 4 connections publish events of 64 random tags and random 1 KB correlation ids, SQLite store",
  kind: "latency",
  unit: "ms",
  windowFactor: 3,
  target: {
    text: "p99 ≤3x the ordered keys' p99",
    check: ({ subject, baseline }) => subject.p99.median <= 3 * baseline.p99.median,
  },
  smokeOptions: { connections: 1, batch: 20 },
  subject: protobus({ store: "sqlite", ...shape, options: { ...shape.options, keys: "random" }, label: "protobus, random keys" }),
  baseline: protobus({ store: "sqlite", ...shape, options: { ...shape.options, keys: "ordered" }, label: "protobus, ordered keys" }),
};
