/**
 * Client side of `EventBus.Subscribe`: one bidi stream per subscription,
 * exposed as an async iterable of {@link ReceivedEvent} or driven by a
 * handler. Acks are batched per tick; the server's window bounds how many
 * deliveries can wait in the client.
 */
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { EventBusService, type Delivery, type EventBusClient, type StartPosition, type SubscribeRequest, type SubscribeResponse } from "./gen/protobus/v1/bus.pb.js";
import type { Event } from "./gen/protobus/v1/event.pb.js";
import { eventJson } from "./event-input.js";
import { Code, ProtobusError } from "./protobus-error.js";
import { durationFromMs } from "./time.js";
import { encodeSubscribeRequest, subscribeResponseDecoder } from "./subscribe-codec.js";
import { runHandler, type ConsumerSpanRelation } from "./tracing/consumer.js";

/** Where a subscription starts. */
export type StartFrom =
  | "latest"
  | "earliest"
  | { readonly sequence: bigint | number }
  | { readonly time: Date };

/** Options of a subscription. */
export interface SubscribeOptions {
  /** Where to start; `latest` by default. */
  readonly from?: StartFrom;
  /**
   * Consumer group: the group's members share its events, each event going
   * to one member; unacked events are redelivered. Created on first use.
   * Broadcast (every subscriber gets every event) when absent.
   */
  readonly group?: string;
  /** Group only: a delivery not acked within this many ms is redelivered (group default 30 s). */
  readonly ackDeadlineMs?: number;
  /** Group only: after this many deliveries an event goes to the dead-letter queue (default 5). */
  readonly maxDeliveries?: number;
  /** Group only: first redelivery delay after a failure, doubling per attempt (default 1 s). */
  readonly backoffMinMs?: number;
  /** Group only: largest redelivery delay (default 60 s). */
  readonly backoffMaxMs?: number;
  /**
   * Only events for which this expression holds, e.g. `subject == "agent-7"`
   * or `attributes.role == "planner"` (see the README). For a group, fixed
   * when the group is created.
   */
  readonly filter?: string;
  /** Most deliveries outstanding at once (server default 100). */
  readonly maxInFlight?: number;
  /**
   * Iterator form only: ack each event when the loop asks for the next one
   * (default true). When false, call `event.ack()` yourself.
   */
  readonly autoAck?: boolean;
  /** Aborting it closes the subscription. */
  readonly signal?: AbortSignal;
  /**
   * After a lost connection (the server restarted, the network dropped), the
   * subscription opens again by itself with exponential backoff: a group
   * member rejoins its group (deliveries it had not acked come again, to it
   * or another member); a broadcast subscription resumes after the last
   * event it received. On by default; `false` ends the subscription with the
   * error instead.
   */
  readonly reconnect?: false | ReconnectOptions;
  /**
   * How each handling's CONSUMER span relates to the producer span:
   * `child` (default) continues the producer's trace; `link` starts a new
   * trace linked to it.
   */
  readonly consumerSpan?: ConsumerSpanRelation;
}

/** Backoff of {@link SubscribeOptions.reconnect}. */
export interface ReconnectOptions {
  /** First delay before opening again (default 100 ms); doubles per failed try. */
  readonly initialDelayMs?: number;
  /** Largest delay (default 5 s). */
  readonly maxDelayMs?: number;
}

// Statuses after which opening again can help; anything else (a deleted
// group, bad input) ends the subscription.
const RETRYABLE = new Set<Code>([Code.UNAVAILABLE, Code.INTERNAL, Code.UNKNOWN, Code.ABORTED, Code.RESOURCE_EXHAUSTED, Code.CANCELLED]);

/** A delivered event, with the means to settle it. */
export interface ReceivedEvent extends Event {
  /** The id to settle this delivery with. */
  readonly deliveryId: string;
  /** 1 on first delivery, higher on redeliveries. */
  readonly attempt: number;
  /** Settles the delivery. Idempotent. */
  ack(): void;
  /**
   * Settles the delivery and resolves once the server confirms the ack is
   * durable (for a group on a durable store: committed, so the event is never
   * delivered to the group again, even after a crash of the server).
   */
  ackAndWait(): Promise<void>;
  /**
   * Gives the delivery back, to be delivered again after `delayMs`; without
   * a delay, a group applies its exponential backoff. `reason` is kept with
   * the event if it ends in the dead-letter queue.
   */
  nack(delayMs?: number, reason?: string): void;
  /**
   * Says the work is still in progress: the group's ack deadline for this
   * delivery moves to now + `ms` (the group's ack deadline when absent).
   */
  extend(ms?: number): void;
  /** The payload parsed as JSON. */
  json<T = unknown>(): T;
}

/** Handles one event; resolve to ack, throw to nack. */
export type EventHandler = (event: ReceivedEvent) => void | Promise<void>;

function toStart(from: StartFrom | undefined): StartPosition | undefined {
  if (from === undefined || from === "latest") return { position: { $case: "latest", latest: {} } };
  if (from === "earliest") return { position: { $case: "earliest", earliest: {} } };
  if ("sequence" in from) return { position: { $case: "sequence", sequence: BigInt(from.sequence) } };
  return { position: { $case: "time", time: from.time } };
}

/**
 * An open subscription. Iterate it (`for await (const event of sub)`) or
 * pass a handler to `client.subscribe`; `close()` ends it.
 */
export class Subscription implements AsyncIterable<ReceivedEvent> {
  readonly #client: EventBusClient;
  readonly #patterns: readonly string[];
  readonly #options: SubscribeOptions;
  #call: ClientDuplexStream<SubscribeRequest, SubscribeResponse> | undefined;
  readonly #queue: ReceivedEvent[] = [];
  readonly #waiters: Array<{ resolve: (r: IteratorResult<ReceivedEvent>) => void; reject: (e: unknown) => void }> = [];
  readonly #acks: string[] = [];
  readonly #confirmations = new Map<string, Array<{ resolve: () => void; reject: (error: unknown) => void }>>();
  readonly #autoAck: boolean;
  readonly #group: string;
  readonly #consumerSpan: ConsumerSpanRelation;
  #flushScheduled = false;
  #drain: (() => void) | undefined;
  #error: ProtobusError | undefined;
  #done = false;
  /** Set by `close()` in the handler form while running handlers finish. */
  #closing = false;
  #active = 0;
  #iterating = false;
  #id = "";
  #headSequence = 0n;
  /** True while the current stream is open (after `opened`, before it ends). */
  #connected = false;
  #everOpened = false;
  #reconnects = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** The newest sequence received (broadcast resumes after it). */
  #lastSequence = 0n;
  readonly #opened: Promise<void>;
  #resolveOpened!: () => void;
  #rejectOpened!: (error: unknown) => void;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;
  #rejectClosed!: (error: unknown) => void;

  /** @internal Use `client.subscribe`. */
  constructor(client: EventBusClient, patterns: readonly string[], options: SubscribeOptions) {
    this.#client = client;
    this.#patterns = patterns;
    this.#options = options;
    this.#autoAck = options.autoAck ?? true;
    this.#group = options.group ?? "";
    this.#consumerSpan = options.consumerSpan ?? "child";
    this.#closed = new Promise<void>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Nobody may be listening for the close of an iterator-form subscription.
    this.#closed.catch(() => undefined);
    this.#opened = new Promise<void>((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.#opened.catch(() => undefined);
    this.#connect();
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /** Opens a stream: the first one, or again after a lost connection. */
  #connect(): void {
    // The generated client's call, with the stream's own codecs (the same bytes and objects, less work per event).
    const call = this.#client.makeBidiStreamRequest<SubscribeRequest, SubscribeResponse>(
      EventBusService.subscribe.path,
      encodeSubscribeRequest,
      subscribeResponseDecoder(),
    );
    this.#call = call;
    const options = this.#options;
    call.on("data", (response: SubscribeResponse) => {
      if (call !== this.#call) return;
      const message = response.response;
      switch (message?.$case) {
        case "opened":
          this.#id = message.opened.subscriptionId;
          if (!this.#everOpened) this.#headSequence = message.opened.headSequence;
          this.#everOpened = true;
          this.#connected = true;
          this.#reconnects = 0;
          this.#resolveOpened();
          // Acks made while the connection was down still settle group deliveries.
          this.#flushAcks();
          break;
        case "delivery":
          this.#delivered(message.delivery);
          break;
        case "batch":
          for (const delivery of message.batch.deliveries) this.#delivered(delivery);
          break;
        case "acked":
          for (const id of message.acked.deliveryIds) {
            for (const waiter of this.#confirmations.get(id) ?? []) waiter.resolve();
            this.#confirmations.delete(id);
          }
          break;
        case "heartbeat":
        case undefined:
          break;
      }
    });
    // grpc-js may also emit `end` after `error`; only a clean end finishes.
    let failed = false;
    call.on("error", (error: unknown) => {
      failed = true;
      if (call !== this.#call) return;
      const failure = ProtobusError.from(error);
      this.#rejectOpened(failure);
      // Whatever ends a stream we closed is a normal close.
      if (this.#done) this.#finish(undefined);
      else this.#lost(failure);
    });
    call.on("end", () => {
      if (failed || call !== this.#call) return;
      this.#rejectOpened(new ProtobusError(Code.UNAVAILABLE, "the subscription ended before it opened"));
      this.#finish(undefined);
    });
    call.write({
      request: {
        $case: "open",
        open: {
          patterns: [...this.#patterns],
          group: options.group ?? "",
          start: this.#startPosition(),
          maxInFlight: options.maxInFlight ?? 0,
          manualCredit: false,
          filter: options.filter ?? "",
          batchDeliveries: true,
          groupSettings: {
            ackDeadline: options.ackDeadlineMs === undefined ? undefined : durationFromMs(options.ackDeadlineMs),
            maxDeliveries: options.maxDeliveries ?? 0,
            backoffMin: options.backoffMinMs === undefined ? undefined : durationFromMs(options.backoffMinMs),
            backoffMax: options.backoffMaxMs === undefined ? undefined : durationFromMs(options.backoffMaxMs),
          },
        },
      },
    });
  }

  /** Where a (re)opened stream starts: a broadcast resumes after what it received. */
  #startPosition(): StartPosition | undefined {
    if (!this.#everOpened || this.#group !== "") return toStart(this.#options.from);
    const from = this.#options.from;
    const after = this.#lastSequence > 0n ? this.#lastSequence : from === undefined || from === "latest" ? this.#headSequence : undefined;
    return after === undefined ? toStart(from) : { position: { $case: "sequence", sequence: after + 1n } };
  }

  /** The stream failed: open it again when that can help, else end with the error. */
  #lost(error: ProtobusError): void {
    this.#connected = false;
    const reconnect = this.#options.reconnect;
    if (this.#closing) {
      this.#shutdown();
      return;
    }
    if (this.#done || reconnect === false || !this.#everOpened || !RETRYABLE.has(error.code)) {
      this.#finish(error);
      return;
    }
    // Confirmations of the lost stream cannot come any more: the ack may or may not be committed.
    for (const waiters of this.#confirmations.values()) for (const waiter of waiters) waiter.reject(error);
    this.#confirmations.clear();
    // A group gives unacked deliveries to its members again; local copies not
    // started yet would only be handled twice.
    if (this.#group !== "") this.#queue.length = 0;
    const first = reconnect?.initialDelayMs ?? 100;
    const max = reconnect?.maxDelayMs ?? 5_000;
    const delay = Math.min(max, first * 2 ** Math.min(this.#reconnects, 20)) * (0.8 + Math.random() * 0.4);
    this.#reconnects += 1;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#done) this.#connect();
    }, delay);
  }

  /** Resolves once the server confirmed the subscription; rejects with its error. */
  opened(): Promise<void> {
    return this.#opened;
  }

  /** The server-assigned id (after `opened()`). */
  get id(): string {
    return this.#id;
  }

  /** The newest sequence in the store when the subscription opened. */
  get headSequence(): bigint {
    return this.#headSequence;
  }

  /** Resolves when the subscription ends normally; rejects with its error. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /**
   * Ends the subscription. In the handler form it drains first: no new
   * handler starts, the running ones finish and their acks and nacks are
   * sent, then the stream closes (`closed` resolves then). Deliveries not
   * handled go back to the server (a group gives them to another member).
   */
  close(): void {
    if (this.#done || this.#closing) return;
    if (this.#drain !== undefined && this.#active > 0 && this.#connected) {
      this.#closing = true;
      return;
    }
    this.#shutdown();
  }

  #shutdown(): void {
    if (this.#done) return;
    this.#flushAcks();
    this.#done = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    const call = this.#call;
    if (call === undefined || !this.#connected) {
      call?.cancel();
      this.#finish(undefined);
      return;
    }
    // Half-close: the server takes the acks written before it, then ends
    // the stream. A server that does not answer is cut off.
    call.end();
    const force = setTimeout(() => call.cancel(), 2_000);
    force.unref();
    void this.#closed.finally(() => clearTimeout(force)).catch(() => undefined);
  }

  /**
   * Runs `fn` as the handling of `event`, as the handler form does for each
   * event: inside a CONSUMER span (when tracing is active) and with
   * automatic correlation, so events `fn` publishes join the event's flow.
   * For the iterator form.
   */
  handle<T>(event: ReceivedEvent, fn: () => T | Promise<T>): Promise<T> {
    return runHandler(event, { attempt: event.attempt, group: this.#group, subscriptionId: this.#id, relation: this.#consumerSpan }, fn);
  }

  #delivered(delivery: Delivery): void {
    // After close, deliveries go back to the server unhandled.
    if (delivery.event === undefined || this.#done) return;
    const event = delivery.event;
    if (event.sequence > this.#lastSequence) this.#lastSequence = event.sequence;
    this.#push(this.#received(event, delivery.deliveryId, delivery.attempt));
  }

  #received(event: Event, deliveryId: string, attempt: number): ReceivedEvent {
    let settled = false;
    return Object.assign(event, {
      deliveryId,
      attempt,
      ack: () => {
        if (settled) return;
        settled = true;
        this.#ack(deliveryId);
      },
      ackAndWait: () => {
        if (settled) return Promise.resolve();
        settled = true;
        return new Promise<void>((resolve, reject) => {
          if (this.#done) {
            reject(this.#error ?? new ProtobusError(Code.CANCELLED, "the subscription is closed"));
            return;
          }
          if (!this.#connected) {
            // Sent once the stream is open again, but no longer confirmable.
            this.#ack(deliveryId);
            reject(new ProtobusError(Code.UNAVAILABLE, "the connection is down: the ack is sent on reconnect, unconfirmed"));
            return;
          }
          const waiters = this.#confirmations.get(deliveryId) ?? [];
          waiters.push({ resolve, reject });
          this.#confirmations.set(deliveryId, waiters);
          this.#send({ request: { $case: "ack", ack: { deliveryIds: [deliveryId], confirm: true } } });
        });
      },
      nack: (delayMs?: number, reason = "") => {
        if (settled) return;
        settled = true;
        this.#send({
          request: {
            $case: "nack",
            nack: { deliveryIds: [deliveryId], delay: delayMs === undefined ? undefined : durationFromMs(delayMs), reason },
          },
        });
      },
      extend: (ms = 0) => {
        if (settled) return;
        this.#send({ request: { $case: "modifyDeadline", modifyDeadline: { deliveryIds: [deliveryId], extension: durationFromMs(ms) } } });
      },
      json: <T>() => eventJson<T>(event),
    });
  }

  #ack(deliveryId: string): void {
    this.#acks.push(deliveryId);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flushAcks());
  }

  #flushAcks(): void {
    this.#flushScheduled = false;
    // Kept until a stream is open again.
    if (this.#acks.length === 0 || !this.#connected) return;
    const deliveryIds = this.#acks.splice(0);
    this.#send({ request: { $case: "ack", ack: { deliveryIds, confirm: false } } });
  }

  #send(request: SubscribeRequest): void {
    if (this.#done || !this.#connected) return;
    this.#call?.write(request);
  }

  #push(event: ReceivedEvent): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve({ value: event, done: false });
    else this.#queue.push(event);
    this.#drain?.();
  }

  #finish(error: ProtobusError | undefined): void {
    this.#done = true;
    this.#connected = false;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    const unconfirmed = error ?? new ProtobusError(Code.CANCELLED, "the subscription closed before the ack was confirmed");
    for (const waiters of this.#confirmations.values()) for (const waiter of waiters) waiter.reject(unconfirmed);
    this.#confirmations.clear();
    if (error !== undefined && this.#error === undefined) this.#error = error;
    for (const waiter of this.#waiters.splice(0)) {
      if (this.#error !== undefined) waiter.reject(this.#error);
      else waiter.resolve({ value: undefined, done: true });
    }
    if (this.#error !== undefined) this.#rejectClosed(this.#error);
    else this.#resolveClosed();
  }

  [Symbol.asyncIterator](): AsyncIterator<ReceivedEvent> {
    if (this.#iterating) throw new Error("a subscription can be iterated once");
    this.#iterating = true;
    let previous: ReceivedEvent | undefined;
    return {
      next: () => {
        if (this.#autoAck) previous?.ack();
        previous = undefined;
        const queued = this.#queue.shift();
        if (queued !== undefined) {
          previous = queued;
          return Promise.resolve({ value: queued, done: false });
        }
        if (this.#error !== undefined) return Promise.reject(this.#error);
        if (this.#done) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<ReceivedEvent>>((resolve, reject) => {
          this.#waiters.push({
            resolve: (result) => {
              if (!result.done) previous = result.value;
              resolve(result);
            },
            reject,
          });
        });
      },
      return: () => {
        if (this.#autoAck) previous?.ack();
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** @internal Runs `handler` for each event, up to `concurrency` at once. */
  run(handler: EventHandler, concurrency: number, onError: (error: unknown, event: ReceivedEvent) => void): void {
    this.#iterating = true;
    const drain = (): void => {
      while (this.#active < concurrency && !this.#closing) {
        const event = this.#queue.shift();
        if (event === undefined) return;
        this.#active += 1;
        void (async () => {
          try {
            await this.handle(event, () => handler(event));
            event.ack();
          } catch (error) {
            event.nack(undefined, error instanceof Error ? error.message : String(error));
            onError(error, event);
          } finally {
            this.#active -= 1;
            if (this.#closing && this.#active === 0) this.#shutdown();
            else drain();
          }
        })();
      }
    };
    this.#drain = drain;
    drain();
  }
}
