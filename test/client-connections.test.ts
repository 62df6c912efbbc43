/**
 * The SDK client keeps its subscription streams on a connection of their
 * own, apart from unary calls (publish, queries): on one shared HTTP/2
 * connection a subscription's acks queued behind every publish the client
 * had outstanding, so a publisher that fell behind stopped its own
 * deliveries. A plain grpc-js server records the peer (client address and
 * port, i.e. the TCP connection) of every call it gets.
 *
 * The subscription connection also lets the server send more than HTTP/2's
 * default 64 KiB before the client has read it: a plain node:http2 server
 * reads the SETTINGS and WINDOW_UPDATE frames each connection sent.
 */
import { createServer, type Http2Session, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { createClient, SUBSCRIPTION_FLOW_CONTROL_WINDOW } from "@protobus/sdk";
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
    // Unary publishes: this stand-in server implements Publish, not PublishStream.
    const client = createClient({ address, batching: false });
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
      await client.close();
    }
  });
});

describe("the subscription connection's flow-control window", () => {
  it("is SUBSCRIPTION_FLOW_CONTROL_WINDOW per stream and for the connection; unary calls keep HTTP/2's default", async () => {
    const calls: Array<{ path: string; session: Http2Session }> = [];
    const h2 = createServer();
    h2.on("stream", (stream: ServerHttp2Stream, headers) => {
      calls.push({ path: String(headers[":path"]), session: stream.session as Http2Session });
      stream.on("error", () => undefined);
      // Answer nothing: the test only reads what the client announced.
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
    });
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    const client = createClient({ address: `127.0.0.1:${(h2.address() as AddressInfo).port}`, timeoutMs: 60_000, batching: false });
    try {
      const subscription = client.subscribe("flow.>", () => undefined);
      void client.publish({ type: "flow.test.done", data: {} }).catch(() => undefined);
      await waitFor(() => calls.length === 2, 10_000, "both calls to arrive");
      const subscribe = calls.find((c) => c.path.endsWith("/Subscribe"));
      const publish = calls.find((c) => c.path.endsWith("/Publish"));
      expect(subscribe).toBeDefined();
      expect(publish).toBeDefined();
      expect(subscribe?.session).not.toBe(publish?.session);
      // Per stream: the initial window the client's SETTINGS announced.
      expect(subscribe?.session.remoteSettings.initialWindowSize).toBe(SUBSCRIPTION_FLOW_CONTROL_WINDOW);
      expect(publish?.session.remoteSettings.initialWindowSize).toBe(65_535);
      // For the connection: what the server may send now, after the client's WINDOW_UPDATE.
      await waitFor(() => (subscribe?.session.state.remoteWindowSize ?? 0) >= SUBSCRIPTION_FLOW_CONTROL_WINDOW, 10_000, "the connection window");
      expect(publish?.session.state.remoteWindowSize).toBe(65_535);
      subscription.close();
    } finally {
      await client.close();
      for (const call of calls) call.session.destroy();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });
});
