/**
 * The gRPC face of the bus: the typed `protobus.v1.EventBus` implementation
 * (a new RPC in bus.proto without a handler here does not compile). Each
 * handler translates the request into a domain call of {@link EventBus} and
 * its result or failure back; every failure reaches the client as a status
 * with its `google.rpc` details, a bug is logged and answered INTERNAL.
 */
import type { EventBusServer } from "@protobus/sdk/proto";
import type { EventBus } from "../bus/event-bus.js";
import { getFlow } from "../flow/get-flow.js";
import type { OutcomeRecorder } from "../flow/outcome-recorder.js";
import type { Logger } from "../logger.js";
import { callPublishOptions, publishStreamHandler } from "./publish-stream-handler.js";
import type { StreamRegistry } from "./stream-registry.js";
import { subscribeHandler } from "./subscribe-handler.js";
import { unary } from "./unary.js";

/** Settings of the service. */
export interface EventBusServiceOptions {
  /** Where failures are logged. */
  readonly logger: Logger;
  /** Consumer outcomes GetFlow reports. */
  readonly outcomes?: OutcomeRecorder;
}

/** Builds the grpc-js implementation of `protobus.v1.EventBus` over `bus`. */
export function createEventBusService(bus: EventBus, streams: StreamRegistry, options: EventBusServiceOptions): EventBusServer {
  const { logger } = options;
  const admin = bus.admin;
  return {
    publish: unary("Publish", logger, async (request, call) => ({ results: await bus.publish(request.events, callPublishOptions(call, request)) })),
    publishStream: publishStreamHandler(bus, streams, logger),
    subscribe: subscribeHandler(bus, streams, logger),
    queryEvents: unary("QueryEvents", logger, (request) => bus.query(request)),
    getEvent: unary("GetEvent", logger, (request) => bus.getEvent(request.id)),
    getBusInfo: unary("GetBusInfo", logger, () => bus.info()),
    getFlow: unary("GetFlow", logger, (request) => getFlow(bus, options.outcomes, request.correlationId)),
    listGroups: unary("ListGroups", logger, () => admin.listGroups()),
    getGroup: unary("GetGroup", logger, (request) => admin.getGroup(request.name)),
    deleteGroup: unary("DeleteGroup", logger, async (request) => {
      await admin.deleteGroup(request.name);
      return {};
    }),
    listDeadLetters: unary("ListDeadLetters", logger, (request) => admin.listDeadLetters(request)),
    redriveDeadLetters: unary("RedriveDeadLetters", logger, (request) => admin.redrive(request)),
    purgeDeadLetters: unary("PurgeDeadLetters", logger, (request) => admin.purge(request)),
    getDeliveryStats: unary("GetDeliveryStats", logger, () => admin.deliveryStats()),
  };
}
