/**
 * The `protobus.v1.EventBus` service definition the server registers: the
 * generated one with changes to serialization. Publish requests keep each
 * event's encoded bytes (see `publish-request-codec.ts`), publish responses are
 * encoded by hand in one exactly sized buffer (`wire.ts`), subscription responses may be passed
 * pre-encoded (a delivery built around stored event bytes), so fan-out
 * serializes each event once, and subscription requests are decoded by the
 * SDK's subscription codec (acks read without the generated reader).
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import { decodeSubscribeRequest } from "@protobus/sdk/internal";
import { EventBusService, SubscribeResponse, type EventBusServer, type PublishResponse } from "@protobus/sdk/proto";
import { encodePublishResponse } from "../wire.js";
import { decodePublishRequest } from "./publish-request-codec.js";

function serializePublishResponse(value: PublishResponse): Buffer {
  return encodePublishResponse(value.results);
}

/** The EventBus definition with the serializers described above, typed for an {@link EventBusServer}. */
export const eventBusServiceDefinition = {
  ...EventBusService,
  publish: { ...EventBusService.publish, requestDeserialize: decodePublishRequest, responseSerialize: serializePublishResponse },
  publishStream: { ...EventBusService.publishStream, requestDeserialize: decodePublishRequest, responseSerialize: serializePublishResponse },
  subscribe: {
    ...EventBusService.subscribe,
    requestDeserialize: decodeSubscribeRequest,
    responseSerialize: (value: SubscribeResponse | Uint8Array): Buffer =>
      value instanceof Uint8Array
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : Buffer.from(SubscribeResponse.encode(value).finish()),
  },
} as unknown as ServiceDefinition<EventBusServer>;
