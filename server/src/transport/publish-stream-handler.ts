/**
 * `PublishStream`: each request is published in order and answered, in
 * order, with the results Publish would give. A request goes to the store
 * once the one before it has been handed over, not once that one is
 * durable, so the requests read in one turn of the event loop share one
 * group commit; stored one after the other, each request took a commit and
 * a turn of its own, and a stream of small requests fell further behind
 * after every pause. At most 64 requests wait for their answer (the stream
 * is paused beyond that, so the client sees flow control). A request that
 * fails stops the ones after it from being published (one already handed
 * to the store with it is stored if its own commit succeeds) and ends the
 * stream with its status, after the answers of the requests before it;
 * what was answered stays stored.
 */
import type { ServerDuplexStream, handleBidiStreamingCall } from "@grpc/grpc-js";
import type { PublishRequest, PublishResponse, PublishResult } from "@protobus/sdk/proto";
import type { EventBus, PublishOptions } from "../bus/event-bus.js";
import type { Logger } from "../logger.js";
import { callContext } from "./call-context.js";
import { failureStatus } from "./status.js";
import { encodedEvents } from "./publish-request-codec.js";
import { requestRefusal } from "./request-guard.js";
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
    // Settles once the latest request has been handed to the store, or has failed.
    let handedOver: Promise<void> = Promise.resolve();
    // Settles once the latest request has been answered.
    let answered: Promise<void> = Promise.resolve();
    // A request failed: the ones after it are not published.
    let stopped = false;
    let failed = false;
    let pending = 0;
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      call.emit("error", failureStatus(error, logger, "PublishStream"));
    };
    const unregister = streams.add((error) => fail(error));
    /** Publishes `request` once the request before it is in the store; undefined when the stream stopped first. */
    const publish = (request: PublishRequest): Promise<PublishResult[] | undefined> => {
      let release!: () => void;
      const handed = new Promise<void>((resolve) => (release = resolve));
      const previous = handedOver;
      handedOver = handed;
      const results = previous.then(() => {
        if (stopped || failed) return undefined;
        // A batch the transport refused (malformed, or over the waiting budget) fails here, in its order.
        const refused = requestRefusal(request);
        if (refused !== undefined) throw refused;
        const encoded = encodedEvents(request);
        return bus.publish(request.events, { ...publishOptions, ...(encoded !== undefined ? { encoded } : {}), onStoring: release });
      });
      results.then(release, () => {
        stopped = true;
        release();
      });
      return results;
    };
    const answer = async (results: Promise<PublishResult[] | undefined>): Promise<void> => {
      try {
        const stored = await results;
        if (stored !== undefined && !failed) call.write({ results: stored });
      } catch (error) {
        fail(error);
      } finally {
        pending -= 1;
        if (pending < RESUME_BELOW && call.isPaused()) call.resume();
      }
    };
    call.on("data", (request: PublishRequest) => {
      if (failed || stopped) return;
      pending += 1;
      if (pending >= PAUSE_AT) call.pause();
      const results = publish(request);
      answered = answered.then(() => answer(results));
    });
    call.on("end", () => {
      void answered.then(() => {
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
