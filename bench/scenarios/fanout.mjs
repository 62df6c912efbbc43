// Broadcast delivery throughput to 1 and 10 subscribers (deliveries/s,
// summed over subscribers), against a raw grpc-js server that serializes
// each event once and writes it to every subscriber's stream.
import { protobus, ratioAtLeast, rawGrpc } from "./sides.mjs";

function fanout(subscribers, target) {
  const shape = { workload: "fanout", options: { subscribers, batch: 100, inflight: 4, budget: 5000 } };
  return {
    name: `fanout-${subscribers}`,
    title: `Broadcast to ${subscribers} subscriber${subscribers === 1 ? "" : "s"} (acked), memory store, stream publisher 100/msg`,
    unit: "deliveries/s",
    ...(target !== undefined ? { target } : {}),
    subject: protobus({ store: "memory", ...shape, label: "protobus" }),
    baseline: rawGrpc({ ...shape, label: `raw grpc-js serialize-once fan-out to ${subscribers}` }),
  };
}

export const fanout1 = fanout(1);
export const fanout10 = fanout(10, ratioAtLeast(0.7));
