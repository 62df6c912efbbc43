/**
 * Typed delivery: decodes each event's payload with the generated
 * definition of its type, for the handler form (a wrapped handler that
 * runs inside the subscription's tracing and correlation context) and the
 * iterator form ({@link TypedSubscription}).
 */
import type { HandlerOptions } from "../client.js";
import type { EventHandler, ReceivedEvent, SubscribeOptions, Subscription } from "../subscription.js";
import type { EventMap, TypedEventHandler } from "./typed-events.js";

/** Why a typed subscription passed over an event. */
export type SkipReason = "unknown-type";

/** Told about each event a typed subscription acked without handling. */
export type SkipListener = (event: ReceivedEvent, reason: SkipReason) => void;

/** Options of the typed handler form of `subscribe`. */
export interface TypedHandlerOptions<E> extends Omit<HandlerOptions, "onError"> {
  /**
   * Told about each handler failure, including a payload that does not
   * decode into the generated message (the event is nacked).
   */
  readonly onError?: (error: unknown, event: E | ReceivedEvent) => void;
  /** Told about each event of a type the client has no definition for (it is acked and skipped). */
  readonly onSkip?: SkipListener;
}

/** Options of the typed iterator form of `subscribe`. */
export interface TypedSubscribeOptions extends Omit<SubscribeOptions, "autoAck"> {
  /** Told about each event of a type the client has no definition for (it is acked and skipped). */
  readonly onSkip?: SkipListener;
}

/**
 * Adds `payload` to a received event, decoded with the definition of its
 * type; `undefined` when the map has no definition for the type. Throws
 * when the payload does not decode.
 */
export function decodeTyped(events: EventMap, event: ReceivedEvent): ReceivedEvent | undefined {
  const definition = events[event.type];
  if (definition === undefined) return undefined;
  return Object.assign(event, { payload: definition.decodeEvent(event) });
}

/** Wraps a typed handler into a plain one that decodes first. */
export function typedHandler(events: EventMap, handler: TypedEventHandler<never>, onSkip: SkipListener | undefined): EventHandler {
  return (event) => {
    const typed = decodeTyped(events, event);
    if (typed === undefined) {
      onSkip?.(event, "unknown-type");
      return;
    }
    return handler(typed as never);
  };
}

/**
 * An open typed subscription: iterate it with `for await` to get the
 * matching typed events (acked when the loop asks for the next one), or
 * `close()` it.
 */
export class TypedSubscription<E> implements AsyncIterable<E> {
  readonly #inner: Subscription;
  readonly #events: EventMap;
  readonly #onSkip: SkipListener | undefined;

  /** @internal Use `client.subscribe`. */
  constructor(inner: Subscription, events: EventMap, options: TypedSubscribeOptions) {
    this.#inner = inner;
    this.#events = events;
    this.#onSkip = options.onSkip;
  }

  /** The untyped subscription underneath. */
  get subscription(): Subscription {
    return this.#inner;
  }

  /** Resolves once the server confirmed the subscription. */
  opened(): Promise<void> {
    return this.#inner.opened();
  }

  /** Resolves when the subscription ends normally; rejects with its error. */
  get closed(): Promise<void> {
    return this.#inner.closed;
  }

  /** Ends the subscription. */
  close(): void {
    this.#inner.close();
  }

  /**
   * Runs `fn` as the handling of `event` (CONSUMER span and automatic
   * correlation, as the handler form does).
   */
  handle<T>(event: E, fn: () => T | Promise<T>): Promise<T> {
    return this.#inner.handle(event as ReceivedEvent, fn);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<E> {
    for await (const event of this.#inner) {
      let typed: ReceivedEvent | undefined;
      try {
        typed = decodeTyped(this.#events, event);
      } catch (error) {
        event.nack(undefined, error instanceof Error ? error.message : String(error));
        throw error;
      }
      if (typed === undefined) {
        event.ack();
        this.#onSkip?.(event, "unknown-type");
        continue;
      }
      try {
        yield typed as E;
      } finally {
        event.ack();
      }
    }
  }
}
