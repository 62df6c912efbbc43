// Server memory under a flood of large publishes: 20 connections each send
// 8 publishes of 3,000 events of 1 KB (3 MB each, 490 MB in all) at once,
// as a hostile client would, without sending a refused one again. The
// server bounds what waits to be decoded (max-waiting-request-bytes) and
// refuses the rest; without that bound its peak RSS followed what was sent
// (1.1 GB measured here).
import { protobus } from "./sides.mjs";

const CONNECTIONS = 20;
const PER_CONNECTION = 8;

export const largeRequestFlood = {
  name: "large-request-flood",
  title: "Server peak RSS under 160 publishes of 3 MB sent at once from 20 connections (no retries), SQLite store",
  kind: "memory",
  unit: "bytes",
  repeats: 1,
  maxRetries: 0,
  target: {
    text: "peak RSS <1 GB",
    // Every publish answered (stored or refused), none failed otherwise.
    check: ({ measurements }) => measurements.every((m) => m.peakRss < 2 ** 30 && m.failed === 0 && m.stored + m.refused === CONNECTIONS * PER_CONNECTION),
  },
  smokeOptions: { connections: 2, perConnection: 2, events: 100 },
  subject: protobus({
    store: "sqlite",
    workload: "flood",
    options: { connections: CONNECTIONS, perConnection: PER_CONNECTION, events: 3_000 },
    label: "protobus",
  }),
};
