// Publish throughput: unary `Publish` calls with a fixed concurrency, or a
// `PublishStream` with a fixed number of requests in flight. `api: "sdk"`
// goes through the protobus client; `api: "raw"` through the generated
// grpc-js client, as an application without our SDK would.
import { createClient, createRegistryClient } from "@protobus/sdk";
import { credentials } from "@grpc/grpc-js";
import { EventBusClient } from "@protobus/sdk/proto";
import { BENCH_JSON_SCHEMA, EVENT_TYPE, payload, wireBatch } from "../lib/event-shape.mjs";
import { startStreamPublisher } from "./stream-publisher.mjs";

export async function start({ address, api, mode, batch, inflight, json = false, registerSchema = false }) {
  if (registerSchema) {
    // Every published event is then checked against this schema.
    const registry = createRegistryClient({ address });
    await registry.register(EVENT_TYPE, { jsonSchema: BENCH_JSON_SCHEMA });
    registry.close();
  }
  const sdk = api === "sdk" ? createClient({ address, source: "bench/loadgen" }) : undefined;
  const raw = sdk?.raw ?? new EventBusClient(address, credentials.createInsecure());
  if (mode === "stream") {
    const publisher = startStreamPublisher({ client: raw, batch, inflight, json });
    return {
      count: () => publisher.acked,
      async stop() {
        await publisher.stop();
        if (sdk !== undefined) sdk.close();
        else raw.close();
      },
    };
  }
  // Unary: `inflight` loops, each awaiting its previous call.
  const data = payload();
  const inputs = Array.from({ length: batch }, () => ({ type: EVENT_TYPE, data }));
  const events = wireBatch(batch);
  const publishRaw = () =>
    new Promise((resolve, reject) => raw.publish({ events }, (error, response) => (error ? reject(error) : resolve(response))));
  let count = 0;
  let running = true;
  const loops = Array.from({ length: inflight }, async () => {
    while (running) {
      if (sdk !== undefined) await (batch === 1 ? sdk.publish(inputs[0]) : sdk.publish(inputs));
      else await publishRaw();
      count += batch;
    }
  });
  return {
    count: () => count,
    async stop() {
      running = false;
      await Promise.all(loops);
      if (sdk !== undefined) sdk.close();
      else raw.close();
    },
  };
}
