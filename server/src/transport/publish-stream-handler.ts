/**
 * `PublishStream`: each request is published in order and answered with
 * the results Publish would give. At most 64 requests wait to be stored
 * (the stream is paused beyond that, so the client sees flow control); the
 * first failure ends the stream with its status, and what was answered
 * before stays stored.
 */
import type { ServerDuplexStream, handleBidiStreamingCall } from "@grpc/grpc-js";
import type { PublishRequest, PublishResponse } from "@protobus/sdk/proto";
import type { EventBus, PublishOptions } from "../bus/event-bus.js";
import type { Logger } from "../logger.js";
import { callContext } from "./call-context.js";
import { failureStatus } from "./status.js";
import { encodedEvents } from "./publish-request-codec.js";
import type { StreamRegistry } from "./stream-registry.js";

const PAUSE_AT = 64;
const RESUME_BELOW = 32;

/** The publish options of a call: the trace context its client propagated, and the request's encoded events when known. */
export function callPublishOptions(call: Parameters<typeof callContext>[0], request?: PublishRequest): PublishOptions {
  const traceContext = callContext(call).traceContext;
  const encoded = request !== undefined ? encodedEvents(request) : undefined;
  return { ...(traceContext !== undefined ? { traceContext } : {}), ...(encoded !== undefined ? { encoded } : {}) };
}

/** The `PublishStream` handler over `bus`. */
export function publishStreamHandler(bus: EventBus, streams: StreamRegistry, logger: Logger): handleBidiStreamingCall<PublishRequest, PublishResponse> {
  return (call: ServerDuplexStream<PublishRequest, PublishResponse>): void => {
    const publishOptions = callPublishOptions(call);
    let chain = Promise.resolve();
    let failed = false;
    let pending = 0;
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      call.emit("error", failureStatus(error, logger, "PublishStream"));
    };
    const unregister = streams.add((error) => fail(error));
    const store = async (request: PublishRequest): Promise<void> => {
      if (failed) return;
      try {
        const encoded = encodedEvents(request);
        const results = await bus.publish(request.events, encoded !== undefined ? { ...publishOptions, encoded } : publishOptions);
        if (!failed) call.write({ results });
      } catch (error) {
        fail(error);
      } finally {
        pending -= 1;
        if (pending < RESUME_BELOW && call.isPaused()) call.resume();
      }
    };
    call.on("data", (request: PublishRequest) => {
      if (failed) return;
      pending += 1;
      if (pending >= PAUSE_AT) call.pause();
      chain = chain.then(() => store(request));
    });
    call.on("end", () => {
      void chain.then(() => {
        unregister();
        if (!failed) call.end();
      });
    });
    call.on("cancelled", () => {
      failed = true;
      unregister();
    });
    call.on("error", () => unregister());
  };
}
