// Builders for the two sides of a scenario and for its target.

/** A protobus server (own process) on `store`, driven by `workload`. */
export function protobus({ store, config, workload, options, label }) {
  return { label, server: { kind: "protobus", store, config }, workload, options: { api: "sdk", ...options } };
}

/** The raw grpc-js baseline server, driven by the same workload through the generated client. */
export function rawGrpc({ workload, options, label }) {
  return { label, server: { kind: "raw-grpc" }, workload, options: { ...options, api: "raw" } };
}

/** A `nats-server -js` started for the measurement, driven by a raw JetStream workload. */
export function rawJetStream({ options, label }) {
  return { label, server: { kind: "nats" }, workload: "jetstream", options };
}

/** Target: the ratio to the baseline is at least `min`. */
export function ratioAtLeast(min) {
  return { text: `≥${min}x`, check: ({ ratio }) => ratio >= min };
}

/** Target: at least `rate` per second and a ratio of at least `min`. */
export function rateAndRatioAtLeast(rate, min) {
  return { text: `≥${rate / 1000}k/s, ≥${min}x`, check: ({ subject, ratio }) => subject.median >= rate && ratio >= min };
}
