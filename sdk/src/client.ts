/**
 * The protobus client: publish, subscribe and query over one gRPC channel.
 */
import {
  EventBusClient,
  type BusInfo,
  type Flow,
  type DeadLetter,
  type DeliveryStats,
  type GroupInfo,
  type PublishResult,
} from "./gen/protobus/v1/bus.pb.js";
import type { Event } from "./gen/protobus/v1/event.pb.js";
import { BatchingPublisher, type BatchingOptions } from "./batching-publisher.js";
import type { EventInput } from "./event-input.js";
import { Subscription, type EventHandler, type ReceivedEvent, type SubscribeOptions } from "./subscription.js";
import { clientClosedError, createUnaryCaller } from "./unary-call.js";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { clientConnection, type ClientConnection, type ConnectionOptions } from "./transport/client-transport.js";
import { createPublish } from "./client-publish.js";
import { readAndAdminCalls } from "./read-and-admin-calls.js";
import type { EventDefinition, PublishOptions } from "./typed/event-definition.js";
import type { EventMap, EventsMatching, KnownPattern, NoEvents, PayloadOf, TypedEventHandler } from "./typed/typed-events.js";
import { TypedSubscription, typedHandler, type TypedSubscribeOptions, type TypedHandlerOptions } from "./typed/typed-subscription.js";

/** Options of {@link createClient}. */
export interface ClientOptions<M extends EventMap = NoEvents> extends ConnectionOptions {
  /**
   * The generated event maps the client knows (spread several packages'
   * maps into one object). With them `subscribe` is typed: its handler
   * receives the union of the generated events its patterns match.
   */
  readonly events?: M;
  /** Default `source` of published events; `protobus-sdk` by default. */
  readonly source?: string;
  /** Deadline of unary calls in ms (default 30 s). */
  readonly timeoutMs?: number;
  /**
   * How single-event `publish()` calls travel: by default they are batched
   * over one long-lived `PublishStream` (see {@link BatchingOptions});
   * `false` sends each as its own unary `Publish` call. Batch publishes
   * (`publish([...])`) are always one unary, all-or-nothing call.
   */
  readonly batching?: false | BatchingOptions;
}

/** A history filter; every given criterion must hold. */
export interface QueryOptions {
  /** Event type patterns (`agent.task.*`, `agent.>`). */
  readonly patterns?: readonly string[];
  /** Only this source. */
  readonly source?: string;
  /** Only this correlation id. */
  readonly correlationId?: string;
  /** Only events with all of these tags. */
  readonly tags?: readonly string[];
  /** Only events published at or after this instant. */
  readonly fromTime?: Date;
  /** Only events published before this instant. */
  readonly toTime?: Date;
  /** Only events with at least this sequence. */
  readonly fromSequence?: bigint | number;
  /** Page size (default 100, at most 1000). */
  readonly limit?: number;
  /** Token of the page to read. */
  readonly pageToken?: string;
}

/** A page of history. */
export interface QueryPage {
  /** Matching events, oldest first. */
  readonly events: Event[];
  /** Token of the next page, or empty at the end. */
  readonly nextPageToken: string;
}

/** Selects a page of a group's dead letters. */
export interface DeadLetterOptions {
  /** Only these event types (patterns). */
  readonly patterns?: readonly string[];
  /** Only events with at least this sequence. */
  readonly fromSequence?: bigint | number;
  /** Page size (default 100, at most 1000). */
  readonly limit?: number;
  /** Token of the page to read. */
  readonly pageToken?: string;
}

/** A page of dead letters. */
export interface DeadLetterPage {
  /** Dead letters, oldest sequence first: the event, attempts, last failure reason, when. */
  readonly deadLetters: DeadLetter[];
  /** Token of the next page, or empty at the end. */
  readonly nextPageToken: string;
}

/** Which dead letters to act on: every one, or those with these event sequences. */
export type DeadLetterTarget = "all" | readonly (bigint | number)[];

/** Options of the handler form of `subscribe`. */
export interface HandlerOptions extends SubscribeOptions {
  /** Handlers running at once (default: maxInFlight, or 16). */
  readonly concurrency?: number;
  /** Told about each handler failure (the event is nacked). */
  readonly onError?: (error: unknown, event: ReceivedEvent) => void;
}

/** What every client does, typed or not: publish, history, groups, dead letters. */
export interface ClientCore {
  /** Publishes one event; resolves once the server stored it. */
  publish(event: EventInput): Promise<PublishResult>;
  /** Publishes a batch, all-or-nothing; one result per event, in order. */
  publish(events: readonly EventInput[]): Promise<PublishResult[]>;
  /**
   * Publishes one typed event: `publish(TaskCreated, { taskId: "t1", ... })`.
   * The payload is checked at compile time against the generated message
   * and sent as Protobuf binary; envelope fields go in `options`, the
   * type's defaults (priority, TTL) apply where they are silent.
   */
  publish<D extends EventDefinition>(definition: D, payload: PayloadOf<D>, options?: PublishOptions): Promise<PublishResult>;
  /** Reads one page of history. */
  query(options?: QueryOptions): Promise<QueryPage>;
  /** Reads every matching event, page after page. */
  queryAll(options?: Omit<QueryOptions, "pageToken">): AsyncIterable<Event>;
  /** The event with this id; throws NOT_FOUND when there is none. */
  getEvent(id: string): Promise<Event>;
  /** What the server is and keeps. */
  info(): Promise<BusInfo>;
  /** Every event of a correlation id as a causation tree, with consumer outcomes; NOT_FOUND when there is none. */
  getFlow(correlationId: string): Promise<Flow>;
  /** Every consumer group with its stats (backlog, in flight, redelivered, dead-lettered, members...). */
  listGroups(): Promise<GroupInfo[]>;
  /** One consumer group with its stats; throws NOT_FOUND when there is none. */
  getGroup(name: string): Promise<GroupInfo>;
  /** Deletes a consumer group with its position and dead letters; throws NOT_FOUND when there is none. */
  deleteGroup(name: string): Promise<void>;
  /** Reads a page of a group's dead-letter queue. */
  listDeadLetters(group: string, options?: DeadLetterOptions): Promise<DeadLetterPage>;
  /** Moves dead letters back into their group; resolves to how many moved. */
  redriveDeadLetters(group: string, target: DeadLetterTarget): Promise<number>;
  /** Drops dead letters for good; resolves to how many were dropped. */
  purgeDeadLetters(group: string, target: DeadLetterTarget): Promise<number>;
  /** Delivery counters per event type and the stats of every group. */
  deliveryStats(): Promise<DeliveryStats>;
  /**
   * Resolves once every single-event `publish()` made before the call has
   * settled; sends what the batching publisher holds at once instead of
   * waiting for its linger.
   */
  flush(): Promise<void>;
  /**
   * Lets events of an ordering key be published again after one of them
   * failed; until then the batching publisher rejects them with
   * FAILED_PRECONDITION, so that the key's stored order never skips an event.
   */
  resumePublishing(orderingKey: string): void;
  /**
   * The batching publisher behind single-event `publish()`: its counters
   * (`stats`) and its circuit breaker (`circuitBreaker`: while open,
   * publishes fail at once with UNAVAILABLE). Undefined with `batching: false`.
   */
  readonly publisher: BatchingPublisher | undefined;
  /**
   * Closes every subscription at once. Single-event publishes already made
   * still complete (each settles, stored or failed), then the channels close;
   * the promise resolves when that is done (awaiting it is optional: the
   * drain happens either way). Publishing after `close()` fails with
   * CANCELLED. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** The generated grpc-js client, for calls the wrapper does not cover. */
  readonly raw: EventBusClient;
}

/** A client for dynamic use: patterns and payloads are plain strings and values. */
export interface UntypedClient extends ClientCore {
  /** Opens a subscription to iterate with `for await`. */
  subscribe(patterns: string | readonly string[], options?: SubscribeOptions): Subscription;
  /**
   * Opens a subscription that runs `handler` for each event: its promise
   * resolving acks the event, throwing nacks it.
   */
  subscribe(patterns: string | readonly string[], handler: EventHandler, options?: HandlerOptions): Subscription;
}

/**
 * A client that knows generated event maps: patterns must match some known
 * event type, and handlers receive exactly the union of the matching typed
 * events, narrowed by `switch (event.type)`.
 */
export type TypedClient<M extends EventMap> = ClientCore & {
  /** Publishes a typed event by its type string: `publish("agent.task.created", { ... })`. */
  publish<T extends keyof M & string>(type: T, payload: PayloadOf<M[T]>, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Runs `handler` for each event matching the patterns, decoded into its
   * generated message; resolving acks, throwing nacks. Events of types the
   * client has no definition for are acked and skipped (`onSkip` is told).
   */
  subscribe<const P extends string>(
    patterns: (P & KnownPattern<M, P>) | readonly (P & KnownPattern<M, P>)[],
    handler: TypedEventHandler<EventsMatching<M, P>>,
    options?: TypedHandlerOptions<EventsMatching<M, P>>,
  ): Subscription;
  /** Opens a typed subscription to iterate with `for await`. */
  subscribe<const P extends string>(
    patterns: (P & KnownPattern<M, P>) | readonly (P & KnownPattern<M, P>)[],
    options?: TypedSubscribeOptions,
  ): TypedSubscription<EventsMatching<M, P>>;
  /** The event maps the client was created with. */
  readonly events: M;
  /** The same connection without typing, for patterns and types known only at run time. */
  readonly untyped: UntypedClient;
};

/**
 * A connection to a protobus server: untyped unless created with generated
 * event maps (`createClient({ address, events })`).
 */
export type ProtobusClient<M extends EventMap = NoEvents> = [keyof M] extends [never] ? UntypedClient : TypedClient<M>;


/**
 * HTTP/2 flow-control window, in bytes, of the connection that carries a
 * client's subscriptions (per stream and for the connection): how much the
 * server may send before this client has read it. `channelOptions` may set
 * `grpc-node.flow_control_window` to override it.
 */
export const SUBSCRIPTION_FLOW_CONTROL_WINDOW = 1024 * 1024;

/**
 * The connection that carries a client's subscriptions, opened with the
 * first one. On a shared HTTP/2 connection a subscription's acks queue
 * behind every unary call the client has outstanding: a publisher that
 * falls behind held the acks back for seconds, the server's window
 * (max_in_flight) stayed full, and deliveries stopped while publishes still
 * went through.
 *
 * It also advertises a flow-control window of
 * SUBSCRIPTION_FLOW_CONTROL_WINDOW instead of HTTP/2's 64 KiB: with 64 KiB
 * the server could have only ~64 KiB of deliveries on the wire, and sent
 * more only after this process had read them and answered with a
 * WINDOW_UPDATE, so a client busy in its handlers stalled its own
 * deliveries (a group member draining a backlog got a third less than the
 * server could send). What the server sends stays bounded by the
 * subscription's max in flight.
 */
class StreamingConnection {
  readonly #connect: () => EventBusClient;
  #client: EventBusClient | undefined;

  constructor(target: string, credentials: ChannelCredentials, clientOptions: ClientConnection["clientOptions"]) {
    this.#connect = () =>
      new EventBusClient(target, credentials, {
        "grpc-node.flow_control_window": SUBSCRIPTION_FLOW_CONTROL_WINDOW,
        ...clientOptions,
        "grpc.use_local_subchannel_pool": 1,
      });
  }

  /** The client of the connection, opened on first use. */
  client(): EventBusClient {
    return (this.#client ??= this.#connect());
  }

  /** Closes the connection, when it was opened. */
  close(): void {
    this.#client?.close();
  }
}

const CHANNEL_DEFAULTS = {
  "grpc.max_receive_message_length": -1,
  "grpc.keepalive_time_ms": 15_000,
  "grpc.keepalive_timeout_ms": 10_000,
  // Reconnect within seconds of a server coming back (grpc-js backs off up
  // to 2 minutes by default); subscriptions reopen on the same schedule.
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 5_000,
};

/**
 * Connects to a protobus server. The channel connects lazily on the first
 * call and reconnects by itself.
 *
 * @example
 * const client = createClient({ address: "127.0.0.1:50051", source: "agent/planner" });
 * await client.publish({ type: "agent.task.created", data: { taskId: "t1" } });
 */
export function createClient<const M extends EventMap = NoEvents>(options: ClientOptions<M>): ProtobusClient<M> {
  const { target, credentials, clientOptions } = clientConnection(options, CHANNEL_DEFAULTS);
  const raw = new EventBusClient(target, credentials, clientOptions);
  const streaming = new StreamingConnection(target, credentials, clientOptions);
  const streamingClient = (): EventBusClient => streaming.client();
  const source = options.source ?? "protobus-sdk";
  const timeoutMs = options.timeoutMs ?? 30_000;
  const subscriptions = new Set<Subscription>();

  const eventMap: EventMap = options.events ?? {};
  let closed = false;
  let closing: Promise<void> | undefined;
  const unaryCall = createUnaryCaller(() => closed, timeoutMs);
  const batcher = options.batching === false ? undefined : new BatchingPublisher(raw, options.batching);
  const publish = createPublish({ raw, unaryCall, batcher, eventMap, source, isClosed: () => closed });

  function subscribeUntyped(
    patterns: string | readonly string[],
    handlerOrOptions?: EventHandler | SubscribeOptions,
    maybeOptions?: HandlerOptions,
  ): Subscription {
    if (closed) throw clientClosedError();
    const list = typeof patterns === "string" ? [patterns] : patterns;
    const handler = typeof handlerOrOptions === "function" ? handlerOrOptions : undefined;
    const subOptions: HandlerOptions = (handler === undefined ? (handlerOrOptions as SubscribeOptions | undefined) : maybeOptions) ?? {};
    const subscription = new Subscription(streamingClient(), list, subOptions);
    subscriptions.add(subscription);
    subscription.closed.then(
      () => subscriptions.delete(subscription),
      () => subscriptions.delete(subscription),
    );
    if (handler !== undefined) {
      const concurrency = subOptions.concurrency ?? subOptions.maxInFlight ?? 16;
      subscription.run(handler, concurrency, subOptions.onError ?? (() => undefined));
    }
    return subscription;
  }

  function subscribeTyped(
    patterns: string | readonly string[],
    handlerOrOptions?: TypedEventHandler<never> | TypedSubscribeOptions,
    maybeOptions?: TypedHandlerOptions<never>,
  ): Subscription | TypedSubscription<never> {
    if (typeof handlerOrOptions === "function") {
      const handlerOptions: TypedHandlerOptions<never> = maybeOptions ?? {};
      return subscribeUntyped(patterns, typedHandler(eventMap, handlerOrOptions, handlerOptions.onSkip), handlerOptions as HandlerOptions);
    }
    const subOptions = handlerOrOptions ?? {};
    return new TypedSubscription(subscribeUntyped(patterns, { ...subOptions, autoAck: false }), eventMap, subOptions);
  }

  const core: ClientCore = {
    ...readAndAdminCalls(raw, unaryCall),
    publish: publish as ClientCore["publish"],
    flush: () => batcher?.flush() ?? Promise.resolve(),
    resumePublishing: (orderingKey) => batcher?.resumePublishing(orderingKey),
    publisher: batcher,
    close() {
      if (closing !== undefined) return closing;
      closed = true;
      for (const subscription of subscriptions) subscription.close();
      streaming.close();
      closing = (batcher?.close() ?? Promise.resolve()).finally(() => raw.close());
      return closing;
    },
    raw,
  };
  const untyped: UntypedClient = { ...core, subscribe: subscribeUntyped as UntypedClient["subscribe"] };
  if (Object.keys(eventMap).length === 0) return untyped as ProtobusClient<M>;
  const typed: TypedClient<EventMap> = {
    ...core,
    publish: publish as TypedClient<EventMap>["publish"],
    subscribe: subscribeTyped as TypedClient<EventMap>["subscribe"],
    events: eventMap,
    untyped,
  };
  return typed as unknown as ProtobusClient<M>;
}
