// Publish throughput: unary `Publish` calls with a fixed concurrency, or a
// `PublishStream` with a fixed number of requests in flight. `api: "sdk"`
// goes through the protobus client; `api: "raw"` through the generated
// grpc-js client, as an application without our SDK would. Mode `batching`
// is `inflight` loops of single-event SDK `publish()` calls through the
// batching publisher; mode `unary` keeps the SDK on unary calls
// (`batching: false`), as these scenarios measured before it existed.
import { createClient, createRegistryClient } from "@protobus/sdk";
import { credentials } from "@grpc/grpc-js";
import { EventBusClient } from "@protobus/sdk/proto";
import { EVENT_TYPE, payloadFor, schemaFor, wireBatch } from "../lib/event-shape.mjs";
import { startStreamPublisher } from "./stream-publisher.mjs";

/**
 * Registers the schema of `payloadKind` for the benchmark type and proves
 * that publishes are now checked: a payload that breaks it must be refused.
 */
async function registerAndProve(address, payloadKind) {
  const registry = createRegistryClient({ address });
  try {
    await registry.register(EVENT_TYPE, await schemaFor(payloadKind));
  } finally {
    registry.close();
  }
  const client = createClient({ address, source: "bench/loadgen" });
  try {
    const bad = payloadKind === "json" ? Buffer.from('{"taskId":"x"}') : Buffer.from([0x0a, 0xff]);
    const contentType = payloadKind === "json" ? "application/json" : "application/protobuf";
    const refused = await client.publish({ type: EVENT_TYPE, data: bad, dataContentType: contentType }).then(
      () => false,
      (error) => error?.code === 3,
    );
    if (!refused) throw new Error(`the server accepted a ${payloadKind} payload that breaks the registered schema: validation is not on`);
  } finally {
    client.close();
  }
}

export async function start({ address, api, mode, batch, inflight, payloadKind = "bytes", registerSchema = false, tls, token }) {
  if (registerSchema) await registerAndProve(address, payloadKind);
  const data = await payloadFor(payloadKind);
  // A server with security on hands out its CA and a token (bench/lib/secure-setup.mjs).
  const security = { ...(tls !== undefined ? { tls } : {}), ...(token !== undefined ? { token } : {}) };
  const sdk = api === "sdk" ? createClient({ address, source: "bench/loadgen", ...security, ...(mode === "batching" ? {} : { batching: false }) }) : undefined;
  const raw = sdk?.raw ?? new EventBusClient(address, credentials.createInsecure());
  if (mode === "stream") {
    const publisher = startStreamPublisher({ client: raw, batch, inflight, payloadKind, data });
    return {
      count: () => publisher.acked,
      async stop() {
        await publisher.stop();
        if (sdk !== undefined) sdk.close();
        else raw.close();
      },
    };
  }
  // Unary or batching: `inflight` loops, each awaiting its previous call.
  const events = wireBatch(batch, payloadKind, data);
  const inputs = Array.from({ length: batch }, () => ({ type: EVENT_TYPE, data, dataContentType: events[0].dataContentType }));
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
