// Publishes as a client without our SDK sends them, on connections of their
// own: requests encoded beforehand and sent as they are (no copy, no
// re-encoding in the load generator), for the workloads that flood the
// server with large or hostile requests.
import { Client, credentials } from "@grpc/grpc-js";

/** `count` grpc-js clients, each on a connection of its own, that send requests of any size. */
export function ownConnections(address, count) {
  return Array.from({ length: count }, () =>
    new Client(address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "grpc.max_send_message_length": -1 }),
  );
}

/** Sends an encoded `PublishRequest` as a unary `Publish`; resolves to the call's error, or undefined once it is stored. */
export function publishEncoded(client, body) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/protobus.v1.EventBus/Publish",
      (b) => b,
      (b) => b,
      body,
      (error) => resolve(error ?? undefined),
    );
  });
}
