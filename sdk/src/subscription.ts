/**
 * Client side of `EventBus.Subscribe`: one bidi stream per subscription,
 * exposed as an async iterable of {@link ReceivedEvent} or driven by a
 * handler. Acks are batched per tick; the server's window bounds how many
 * deliveries can wait in the client.
 */
import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { EventBusClient, StartPosition, SubscribeRequest, SubscribeResponse } from "./gen/protobus/v1/bus.pb.js";
import type { Event } from "./gen/protobus/v1/event.pb.js";
import { eventJson } from "./event-input.js";
import { Code, ProtobusError } from "./protobus-error.js";
import { durationFromMs } from "./time.js";
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
   * How each handling's CONSUMER span relates to the producer span:
   * `child` (default) continues the producer's trace; `link` starts a new
   * trace linked to it.
   */
  readonly consumerSpan?: ConsumerSpanRelation;
}

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
  readonly #call: ClientDuplexStream<SubscribeRequest, SubscribeResponse>;
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
  #iterating = false;
  #id = "";
  #headSequence = 0n;
  readonly #opened: Promise<void>;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;
  #rejectClosed!: (error: unknown) => void;

  /** @internal Use `client.subscribe`. */
  constructor(client: EventBusClient, patterns: readonly string[], options: SubscribeOptions) {
    this.#autoAck = options.autoAck ?? true;
    this.#group = options.group ?? "";
    this.#consumerSpan = options.consumerSpan ?? "child";
    this.#closed = new Promise<void>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Nobody may be listening for the close of an iterator-form subscription.
    this.#closed.catch(() => undefined);
    this.#call = client.subscribe();
    let resolveOpened!: () => void;
    let rejectOpened!: (error: unknown) => void;
    this.#opened = new Promise<void>((resolve, reject) => {
      resolveOpened = resolve;
      rejectOpened = reject;
    });
    this.#opened.catch(() => undefined);
    this.#call.on("data", (response: SubscribeResponse) => {
      const message = response.response;
      switch (message?.$case) {
        case "opened":
          this.#id = message.opened.subscriptionId;
          this.#headSequence = message.opened.headSequence;
          resolveOpened();
          break;
        case "delivery":
          if (message.delivery.event !== undefined) {
            this.#push(this.#received(message.delivery.event, message.delivery.deliveryId, message.delivery.attempt));
          }
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
    this.#call.on("error", (error: unknown) => {
      const failure = ProtobusError.from(error);
      rejectOpened(failure);
      // A cancel we asked for is a normal close.
      this.#finish(failure.code === Code.CANCELLED && this.#done ? undefined : failure);
    });
    this.#call.on("end", () => {
      rejectOpened(new ProtobusError(Code.UNAVAILABLE, "the subscription ended before it opened"));
      this.#finish(undefined);
    });
    this.#call.write({
      request: {
        $case: "open",
        open: {
          patterns: [...patterns],
          group: options.group ?? "",
          start: toStart(options.from),
          maxInFlight: options.maxInFlight ?? 0,
          manualCredit: false,
          filter: options.filter ?? "",
          groupSettings: {
            ackDeadline: options.ackDeadlineMs === undefined ? undefined : durationFromMs(options.ackDeadlineMs),
            maxDeliveries: options.maxDeliveries ?? 0,
            backoffMin: options.backoffMinMs === undefined ? undefined : durationFromMs(options.backoffMinMs),
            backoffMax: options.backoffMaxMs === undefined ? undefined : durationFromMs(options.backoffMaxMs),
          },
        },
      },
    });
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
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

  /** Ends the subscription. Outstanding unacked deliveries go back to the server. */
  close(): void {
    if (this.#done) return;
    this.#flushAcks();
    this.#done = true;
    this.#call.cancel();
    this.#finish(undefined);
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
    if (this.#acks.length === 0) return;
    const deliveryIds = this.#acks.splice(0);
    this.#send({ request: { $case: "ack", ack: { deliveryIds, confirm: false } } });
  }

  #send(request: SubscribeRequest): void {
    if (this.#done) return;
    this.#call.write(request);
  }

  #push(event: ReceivedEvent): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve({ value: event, done: false });
    else this.#queue.push(event);
    this.#drain?.();
  }

  #finish(error: ProtobusError | undefined): void {
    this.#done = true;
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
    let active = 0;
    const drain = (): void => {
      while (active < concurrency) {
        const event = this.#queue.shift();
        if (event === undefined) return;
        active += 1;
        void (async () => {
          try {
            await this.handle(event, () => handler(event));
            event.ack();
          } catch (error) {
            event.nack(undefined, error instanceof Error ? error.message : String(error));
            onError(error, event);
          } finally {
            active -= 1;
            drain();
          }
        })();
      }
    };
    this.#drain = drain;
    drain();
  }
}
