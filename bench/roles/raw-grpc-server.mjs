// The raw @grpc/grpc-js baseline: the same EventBus service and message
// shapes as protobus, with nothing behind them. Publishes are answered at
// once; live subscribers get each event serialized once (one encoded
// delivery written to every stream), with transport backpressure holding
// the publishers back.
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Event, EventBusService, SubscribeResponse } from "@protobus/sdk/proto";
import { serveRole } from "../lib/procs.mjs";

const definition = {
  ...EventBusService,
  subscribe: {
    ...EventBusService.subscribe,
    responseSerialize: (value) =>
      value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(SubscribeResponse.encode(value).finish()),
  },
};

function encodeDelivery(eventBytes, deliveryId) {
  const writer = new BinaryWriter();
  writer.uint32((2 << 3) | 2).fork();
  writer.uint32((1 << 3) | 2).bytes(eventBytes);
  writer.uint32((2 << 3) | 2).string(deliveryId);
  writer.uint32(3 << 3).uint32(1);
  writer.join();
  return writer.finish();
}

serveRole(async () => {
  let sequence = 0n;
  const subscribers = new Set();
  const blocked = new Set();
  const paused = new Set();

  const accept = (events) => {
    const now = new Date();
    const results = [];
    for (const event of events) {
      sequence += 1n;
      // An id of the same size as the UUIDv7 protobus assigns.
      results.push({ id: event.id === "" ? `00000000-0000-7000-8000-${sequence.toString(16).padStart(12, "0")}` : event.id, sequence, duplicate: false });
      if (subscribers.size === 0) continue;
      const frame = encodeDelivery(Event.encode({ ...event, sequence, publishTime: now }).finish(), `${sequence}.1`);
      for (const call of subscribers) if (!call.write(frame)) blocked.add(call);
    }
    return results;
  };
  const unblock = (call) => {
    blocked.delete(call);
    if (blocked.size > 0) return;
    for (const publisher of paused) publisher.resume();
    paused.clear();
  };

  const implementation = {
    publish(call, callback) {
      callback(null, { results: accept(call.request.events) });
    },
    publishStream(call) {
      call.on("data", (request) => {
        call.write({ results: accept(request.events) });
        if (blocked.size > 0) {
          call.pause();
          paused.add(call);
        }
      });
      call.on("end", () => call.end());
      call.on("error", () => paused.delete(call));
    },
    subscribe(call) {
      const remove = () => {
        subscribers.delete(call);
        unblock(call);
      };
      call.on("data", (request) => {
        if (request.request?.$case !== "open") return; // acks: nothing to do
        call.write({ response: { $case: "opened", opened: { subscriptionId: "raw", headSequence: sequence } } });
        subscribers.add(call);
      });
      call.on("drain", () => unblock(call));
      call.on("end", () => {
        remove();
        call.end();
      });
      call.on("cancelled", remove);
      call.on("error", remove);
    },
    queryEvents(_call, callback) {
      callback(null, { events: [], nextPageToken: "" });
    },
    getEvent(_call, callback) {
      callback({ code: 5, details: "the raw baseline keeps nothing" });
    },
    getBusInfo(_call, callback) {
      callback(null, { version: "raw", store: "none", durable: false, headSequence: sequence, maxPayloadBytes: 0 });
    },
  };

  const server = new Server({ "grpc.max_receive_message_length": -1 });
  server.addService(definition, implementation);
  const port = await new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    info: { address: `127.0.0.1:${port}` },
    commands: {},
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
});
