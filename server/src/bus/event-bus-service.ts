/**
 * The gRPC face of the bus: `protobus.v1.EventBus` handlers for grpc-js over
 * {@link EventBus}. Every failure reaches the client as a status with its
 * `google.rpc` details; a bug is logged and answered INTERNAL.
 */
import { randomUUID } from "node:crypto";
import type {
  ServerDuplexStream,
  ServerUnaryCall,
  ServiceDefinition,
  UntypedServiceImplementation,
  sendUnaryData,
} from "@grpc/grpc-js";
import { Code, ProtobusError } from "@protobus/sdk";
import { compilePatterns, msFromDuration, patternError } from "@protobus/sdk/internal";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  EventBusService,
  PublishResponse,
  SubscribeResponse,
  type BusInfo,
  type DeleteGroupRequest,
  type DeliveryStats,
  type Event,
  type Flow,
  type GetEventRequest,
  type GetFlowRequest,
  type GetGroupRequest,
  type GroupInfo,
  type ListDeadLettersRequest,
  type ListDeadLettersResponse,
  type ListGroupsResponse,
  type OpenSubscription,
  type PublishRequest,
  type PurgeDeadLettersRequest,
  type PurgeDeadLettersResponse,
  type QueryEventsRequest,
  type QueryEventsResponse,
  type RedriveDeadLettersRequest,
  type RedriveDeadLettersResponse,
  type SubscribeRequest,
} from "@protobus/sdk/proto";
import { invalidArgument, type FieldViolation } from "../errors.js";
import { compileFilter } from "../filter/filter-expression.js";
import type { InputLimits } from "../limits.js";
import { openLimitViolations } from "./open-limits.js";
import type { Logger } from "../logger.js";
import type { DeliveryObserver } from "../telemetry/delivery-observer.js";
import type { BusMetrics } from "../telemetry/metrics.js";
import { getFlow } from "../flow/get-flow.js";
import type { OutcomeRecorder } from "../flow/outcome-recorder.js";
import type { EventBus } from "./event-bus.js";
import { GroupAdmin, groupSettingsFromProto, validateGroupOpen } from "./group-admin.js";
import { GroupSubscription } from "./group-subscription.js";
import type { GroupHandle } from "../storage/group-store.js";
import { BroadcastSubscription, type DeliverySink } from "./subscription.js";
import { writeDeliveries } from "./delivery-writer.js";
import { StreamWriter } from "./stream-writer.js";

/** Default and ceiling of OpenSubscription.max_in_flight. */
export const DEFAULT_MAX_IN_FLIGHT = 100;
export const MAX_MAX_IN_FLIGHT = 10_000;

/** Settings of the service. */
export interface EventBusServiceOptions {
  /** Heartbeat interval of subscriptions in ms; 0 turns them off. */
  readonly heartbeatMs: number;
  /** Where failures are logged. */
  readonly logger: Logger;
  /** Told about deliveries, acks and nacks (metrics, flow outcomes). */
  readonly observer?: DeliveryObserver;
  /** Where subscription counts are recorded. */
  readonly metrics?: BusMetrics;
  /** Consumer outcomes GetFlow reports. */
  readonly outcomes?: OutcomeRecorder;
}

// One writer for publish responses (grpc-js serializes synchronously): a
// fresh BinaryWriter grows from 128 bytes through several new buffers for a
// response of 100 results, and Buffer.from(Uint8Array) copied it once more.
const responseWriter = new BinaryWriter();

function serializePublishResponse(value: PublishResponse): Buffer {
  const bytes = PublishResponse.encode(value, responseWriter).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The EventBus service definition with two changes: publish responses are
 * encoded with a reused writer, and subscription responses may be passed
 * pre-encoded (a delivery built around stored event bytes), so fan-out
 * serializes each event once.
 */
export const eventBusServiceDefinition: ServiceDefinition = {
  ...EventBusService,
  publish: { ...EventBusService.publish, responseSerialize: serializePublishResponse },
  publishStream: { ...EventBusService.publishStream, responseSerialize: serializePublishResponse },
  subscribe: {
    ...EventBusService.subscribe,
    responseSerialize: (value: SubscribeResponse | Uint8Array): Buffer =>
      value instanceof Uint8Array
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : Buffer.from(SubscribeResponse.encode(value).finish()),
  },
} as unknown as ServiceDefinition;

/** A status object grpc-js sends as it is. */
function toStatus(error: unknown, logger: Logger, method: string): ReturnType<ProtobusError["toServiceStatus"]> {
  if (error instanceof ProtobusError) {
    if (error.code === Code.INTERNAL || error.code === Code.DATA_LOSS) logger.error(`${method} failed`, { error, cause: error.cause });
    return error.toServiceStatus();
  }
  logger.error(`${method} failed unexpectedly`, { error });
  return new ProtobusError(Code.INTERNAL, `${method} failed: ${error instanceof Error ? error.message : String(error)}`).toServiceStatus();
}

/** Adapts a promise-returning handler to a grpc-js unary handler that answers every failure with its status. */
export function unary<Req, Res>(
  method: string,
  logger: Logger,
  handle: (request: Req) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    handle(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toStatus(error, logger, method)),
    );
  };
}

function validateOpen(open: OpenSubscription, limits: InputLimits): FieldViolation[] {
  const violations = openLimitViolations(open, limits);
  // Past the count limit the patterns themselves are not looked at.
  if (violations.some((v) => v.field === "open.patterns")) return violations;
  if (open.patterns.length === 0) {
    violations.push({ field: "open.patterns", description: "must name at least one pattern", reason: "REQUIRED" });
  }
  open.patterns.forEach((pattern, i) => {
    const error = patternError(pattern);
    if (error !== undefined) {
      violations.push({ field: `open.patterns[${i}]`, description: `'${pattern.slice(0, 100)}' ${error}`, reason: "PATTERN" });
    }
  });
  violations.push(...validateGroupOpen(open));
  if (open.maxInFlight > MAX_MAX_IN_FLIGHT) {
    violations.push({
      field: "open.max_in_flight",
      description: `must be at most ${MAX_MAX_IN_FLIGHT}, got ${open.maxInFlight}`,
      reason: "OUT_OF_RANGE",
    });
  }
  return violations;
}

/** Tracks open streams so that shutdown can end them with a status. */
export class StreamRegistry {
  readonly #closers = new Set<(error: ProtobusError) => void>();

  add(close: (error: ProtobusError) => void): () => void {
    this.#closers.add(close);
    return () => this.#closers.delete(close);
  }

  /** Ends every open stream with `error`. */
  closeAll(error: ProtobusError): void {
    for (const close of [...this.#closers]) close(error);
    this.#closers.clear();
  }

  /** How many streams are open. */
  get size(): number {
    return this.#closers.size;
  }
}

/** Builds the grpc-js implementation of `protobus.v1.EventBus`. */
export function createEventBusService(
  bus: EventBus,
  streams: StreamRegistry,
  options: EventBusServiceOptions,
): UntypedServiceImplementation {
  const { logger } = options;
  const admin = new GroupAdmin(bus);

  const publishStream = (call: ServerDuplexStream<PublishRequest, PublishResponse>): void => {
    let chain = Promise.resolve();
    let failed = false;
    let pending = 0;
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      call.emit("error", toStatus(error, logger, "PublishStream"));
    };
    const unregister = streams.add((error) => fail(error));
    call.on("data", (request: PublishRequest) => {
      if (failed) return;
      pending += 1;
      // Bound the requests waiting to be stored; the client sees flow control.
      if (pending >= 64) call.pause();
      chain = chain.then(async () => {
        if (failed) return;
        try {
          const results = await bus.publish(request.events);
          if (!failed) call.write({ results });
        } catch (error) {
          fail(error);
        } finally {
          pending -= 1;
          if (pending < 32 && call.isPaused()) call.resume();
        }
      });
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

  // Dead letters are decided inside the group, not by a member: observed once per group.
  const observedGroups = new WeakSet<GroupHandle>();
  const watchDeadLetters = (group: GroupHandle): void => {
    const observer = options.observer;
    if (observer === undefined || observedGroups.has(group)) return;
    observedGroups.add(group);
    const consumer = { subscriptionId: "", group: group.definition.name };
    group.onDeadLetter((stored) => observer.deadLettered(stored, 0, consumer));
  };

  const subscribe = (call: ServerDuplexStream<SubscribeRequest, SubscribeResponse | Uint8Array>): void => {
    let subscription: BroadcastSubscription | GroupSubscription | undefined;
    let opening = false;
    let ended = false;
    // The group label the active-subscriptions gauge counted this stream under.
    let counted: string | undefined;
    // Deliveries are held back by the bytes the stream has not sent yet.
    const writer = new StreamWriter<Uint8Array | SubscribeResponse>(call);
    const release = (): void => {
      subscription?.close();
      if (counted !== undefined) options.metrics?.recordSubscriptionClosed(counted);
      counted = undefined;
    };
    const finish = (error?: unknown): void => {
      if (ended) return;
      ended = true;
      writer.close();
      release();
      unregister();
      if (error === undefined) call.end();
      else call.emit("error", toStatus(error, logger, "Subscribe"));
    };
    const unregister = streams.add((error) => finish(error));
    // Set by the open request: whether this subscriber takes `batch` responses.
    let batching = false;
    const write = (message: Uint8Array | SubscribeResponse): boolean => writer.write(message);
    const sink: DeliverySink = {
      write,
      writeDeliveries: (encoded) => writeDeliveries(write, encoded, batching),
      waitForDrain: () => writer.whenWritable(),
      fail: (error) => finish(error),
    };

    const open = async (request: OpenSubscription): Promise<void> => {
      bus.assertOpen();
      const violations = validateOpen(request, bus.limits);
      if (violations.length > 0) throw invalidArgument(violations);
      const store = bus.store;
      const head = await store.headSequence();
      const start = request.start?.position;
      let afterSequence: bigint;
      switch (start?.$case) {
        case undefined:
        case "latest":
          afterSequence = head;
          break;
        case "earliest":
          afterSequence = 0n;
          break;
        case "sequence":
          afterSequence = start.sequence > 0n ? start.sequence - 1n : 0n;
          break;
        case "time":
          afterSequence = (await store.sequenceAtTime(start.time)) - 1n;
          break;
      }
      if (ended) return;
      batching = request.batchDeliveries;
      const id = randomUUID();
      const maxInFlight = request.maxInFlight === 0 ? DEFAULT_MAX_IN_FLIGHT : request.maxInFlight;
      if (request.group !== "") {
        const group = await store.groups.open({
          name: request.group,
          patterns: request.patterns,
          filter: request.filter,
          settings: groupSettingsFromProto(request.groupSettings),
          startAfter: afterSequence,
        });
        admin.watch(group);
        watchDeadLetters(group);
        if (ended) return;
        const member = new GroupSubscription(group, sink, {
          id,
          maxInFlight,
          manualCredit: request.manualCredit,
          heartbeatMs: options.heartbeatMs,
          metrics: bus.metrics,
          ...(options.observer !== undefined ? { observer: options.observer } : {}),
        });
        subscription = member;
        options.metrics?.recordSubscriptionOpened(request.group);
        counted = request.group;
        call.write({ response: { $case: "opened", opened: { subscriptionId: id, headSequence: head } } });
        member.start();
        return;
      }
      const broadcast = new BroadcastSubscription(store, sink, {
        id,
        matcher: compilePatterns(request.patterns),
        afterSequence,
        maxInFlight,
        manualCredit: request.manualCredit,
        heartbeatMs: options.heartbeatMs,
        metrics: bus.metrics,
        ...(request.filter !== "" ? { filter: compileFilter(request.filter, bus.limits) } : {}),
        ...(options.observer !== undefined ? { observer: options.observer } : {}),
      });
      subscription = broadcast;
      options.metrics?.recordSubscriptionOpened("");
      counted = "";
      call.write({ response: { $case: "opened", opened: { subscriptionId: id, headSequence: head } } });
      broadcast.start(head);
    };

    call.on("data", (request: SubscribeRequest) => {
      if (ended) return;
      const message = request.request;
      if (subscription === undefined) {
        if (message?.$case !== "open" || opening) {
          finish(
            invalidArgument(
              [{ field: "request", description: opening ? "wait for 'opened' before acking" : "the first message must be 'open'", reason: "ORDER" }],
            ),
          );
          return;
        }
        opening = true;
        open(message.open).catch((error: unknown) => finish(error));
        return;
      }
      switch (message?.$case) {
        case "ack":
          if (subscription instanceof GroupSubscription) subscription.ack(message.ack.deliveryIds, message.ack.confirm);
          else {
            subscription.ack(message.ack.deliveryIds);
            if (message.ack.confirm) call.write({ response: { $case: "acked", acked: { deliveryIds: message.ack.deliveryIds } } });
          }
          break;
        case "nack":
          if (subscription instanceof GroupSubscription) {
            const delay = message.nack.delay === undefined ? undefined : msFromDuration(message.nack.delay);
            subscription.nack(message.nack.deliveryIds, delay, message.nack.reason);
          } else subscription.nack(message.nack.deliveryIds, msFromDuration(message.nack.delay));
          break;
        case "modifyDeadline":
          // Broadcast deliveries have no deadline; there it is a no-op.
          if (subscription instanceof GroupSubscription) {
            subscription.extend(message.modifyDeadline.deliveryIds, msFromDuration(message.modifyDeadline.extension));
          }
          break;
        case "credit":
          subscription.grant(message.credit.count);
          break;
        case "open":
          finish(invalidArgument([{ field: "open", description: "the subscription is already open", reason: "ORDER" }]));
          break;
        case undefined:
          finish(invalidArgument([{ field: "request", description: "names no message", reason: "REQUIRED" }]));
          break;
      }
    });
    call.on("end", () => finish());
    call.on("cancelled", () => {
      ended = true;
      release();
      unregister();
    });
    call.on("error", () => {
      ended = true;
      release();
      unregister();
    });
  };

  return {
    publish: unary<PublishRequest, PublishResponse>("Publish", logger, async (request) => ({
      results: await bus.publish(request.events),
    })),
    publishStream,
    subscribe,
    queryEvents: unary<QueryEventsRequest, QueryEventsResponse>("QueryEvents", logger, (request) => bus.query(request)),
    getEvent: unary<GetEventRequest, Event>("GetEvent", logger, (request) => bus.getEvent(request.id)),
    getBusInfo: unary<unknown, BusInfo>("GetBusInfo", logger, () => bus.info()),
    getFlow: unary<GetFlowRequest, Flow>("GetFlow", logger, (request) => getFlow(bus, options.outcomes, request.correlationId)),
    listGroups: unary<unknown, ListGroupsResponse>("ListGroups", logger, () => admin.listGroups()),
    getGroup: unary<GetGroupRequest, GroupInfo>("GetGroup", logger, (request) => admin.getGroup(request.name)),
    deleteGroup: unary<DeleteGroupRequest, object>("DeleteGroup", logger, (request) => admin.deleteGroup(request.name)),
    listDeadLetters: unary<ListDeadLettersRequest, ListDeadLettersResponse>("ListDeadLetters", logger, (request) =>
      admin.listDeadLetters(request),
    ),
    redriveDeadLetters: unary<RedriveDeadLettersRequest, RedriveDeadLettersResponse>("RedriveDeadLetters", logger, (request) =>
      admin.redrive(request),
    ),
    purgeDeadLetters: unary<PurgeDeadLettersRequest, PurgeDeadLettersResponse>("PurgeDeadLetters", logger, (request) =>
      admin.purge(request),
    ),
    getDeliveryStats: unary<unknown, DeliveryStats>("GetDeliveryStats", logger, () => admin.deliveryStats()),
  };
}
