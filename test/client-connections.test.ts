/**
 * The SDK client keeps its subscription streams on a connection of their
 * own, apart from unary calls (publish, queries): on one shared HTTP/2
 * connection a subscription's acks queued behind every publish the client
 * had outstanding, so a publisher that fell behind stopped its own
 * deliveries. A plain grpc-js server records the peer (client address and
 * port, i.e. the TCP connection) of every call it gets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { createClient } from "@protobus/sdk";
import { Event, EventBusService, type PublishRequest, type PublishResponse, type SubscribeRequest, type SubscribeResponse } from "@protobus/sdk/proto";
import { waitFor } from "./support/test-server.js";

interface Seen {
  readonly publishPeers: string[];
  readonly subscribePeers: string[];
  readonly ackedIds: string[];
}

describe("client connections", () => {
  const seen: Seen = { publishPeers: [], subscribePeers: [], ackedIds: [] };
  let server: Server;
  let address: string;
  let sequence = 0n;

  beforeAll(async () => {
    server = new Server();
    server.addService(EventBusService, {
      publish(call: ServerUnaryCall<PublishRequest, PublishResponse>, callback: sendUnaryData<PublishResponse>) {
        seen.publishPeers.push(call.getPeer());
        callback(null, {
          results: call.request.events.map((event) => {
            sequence += 1n;
            return { id: event.id === "" ? `id-${sequence}` : event.id, sequence, duplicate: false };
          }),
        });
      },
      subscribe(call: ServerDuplexStream<SubscribeRequest, SubscribeResponse>) {
        const index = seen.subscribePeers.push(call.getPeer());
        call.on("data", (request: SubscribeRequest) => {
          const message = request.request;
          if (message?.$case === "ack") seen.ackedIds.push(...message.ack.deliveryIds);
          if (message?.$case !== "open") return;
          call.write({ response: { $case: "opened", opened: { subscriptionId: `s${index}`, headSequence: 0n } } });
          call.write({
            response: {
              $case: "delivery",
              delivery: {
                event: Event.fromPartial({ id: "e1", source: "test", type: "conn.test.done", specVersion: "1.0", data: Buffer.from("{}"), sequence: 1n }),
                deliveryId: `1.${index}`,
                attempt: 1,
              },
            },
          });
        });
        call.on("error", () => undefined);
        call.on("end", () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => server.forceShutdown());

  it("runs subscriptions on one connection of their own, apart from publishes", async () => {
    const client = createClient({ address });
    try {
      await client.publish({ type: "conn.test.done", data: {} });
      const handled: string[] = [];
      const first = client.subscribe("conn.>", (event) => void handled.push(event.deliveryId));
      const second = client.subscribe("conn.>", (event) => void handled.push(event.deliveryId));
      await Promise.all([first.opened(), second.opened()]);
      await client.publish({ type: "conn.test.done", data: {} });
      // Each subscription handled its delivery and the ack reached the server.
      await waitFor(() => seen.ackedIds.length === 2, 10_000);
      expect(handled.sort()).toEqual(["1.1", "1.2"]);
      expect(seen.ackedIds.sort()).toEqual(["1.1", "1.2"]);

      expect(seen.publishPeers).toHaveLength(2);
      expect(new Set(seen.publishPeers).size).toBe(1);
      expect(seen.subscribePeers).toHaveLength(2);
      expect(new Set(seen.subscribePeers).size).toBe(1);
      expect(seen.subscribePeers[0]).not.toBe(seen.publishPeers[0]);
      first.close();
      second.close();
      await Promise.all([first.closed, second.closed]);
    } finally {
      client.close();
    }
  });
});
