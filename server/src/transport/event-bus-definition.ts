/**
 * The `protobus.v1.EventBus` service definition the server registers: the
 * generated one with changes to serialization. Publish requests keep each
 * event's encoded bytes (see `publish-request-codec.ts`), publish responses are
 * encoded with a reused writer, and subscription responses may be passed
 * pre-encoded (a delivery built around stored event bytes), so fan-out
 * serializes each event once.
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { EventBusService, PublishResponse, SubscribeResponse, type EventBusServer } from "@protobus/sdk/proto";
import { decodePublishRequest } from "./publish-request-codec.js";

// One writer for publish responses (grpc-js serializes synchronously): a
// fresh BinaryWriter grows from 128 bytes through several new buffers for a
// response of 100 results, and Buffer.from(Uint8Array) copied it once more.
const responseWriter = new BinaryWriter();

function serializePublishResponse(value: PublishResponse): Buffer {
  const bytes = PublishResponse.encode(value, responseWriter).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The EventBus definition with the serializers described above, typed for an {@link EventBusServer}. */
export const eventBusServiceDefinition = {
  ...EventBusService,
  publish: { ...EventBusService.publish, requestDeserialize: decodePublishRequest, responseSerialize: serializePublishResponse },
  publishStream: { ...EventBusService.publishStream, requestDeserialize: decodePublishRequest, responseSerialize: serializePublishResponse },
  subscribe: {
    ...EventBusService.subscribe,
    responseSerialize: (value: SubscribeResponse | Uint8Array): Buffer =>
      value instanceof Uint8Array
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : Buffer.from(SubscribeResponse.encode(value).finish()),
  },
} as unknown as ServiceDefinition<EventBusServer>;
