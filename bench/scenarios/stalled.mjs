// Server memory with one stalled subscriber (its handler never returns)
// after 1M events were published to a SQLite store.
import { protobus } from "./sides.mjs";

const TOTAL = 1_000_000;

export const stalledSubscriber = {
  name: "stalled-subscriber",
  title: "Server RSS after 1M events with one stalled subscriber, SQLite store",
  kind: "memory",
  unit: "bytes",
  repeats: 1,
  // One long measurement (1M events); not repeated when disturbed.
  maxRetries: 0,
  target: {
    text: "RSS <200 MB",
    // Only a run that got all 1M events through says anything.
    check: ({ subject, measurements }) => subject.median < 200 * 2 ** 20 && measurements.every((m) => m.published >= TOTAL),
  },
  smokeOptions: { total: 2000, timeoutMs: 20_000 },
  subject: protobus({
    store: "sqlite",
    workload: "stalled",
    options: { total: TOTAL, batch: 100, inflight: 8, timeoutMs: 120_000 },
    label: "protobus",
  }),
};
