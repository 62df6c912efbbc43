/**
 * What both kinds of subscription (a broadcast cursor, a consumer-group
 * member) do alike: their shared settings, the credit and window that bound
 * deliveries, heartbeats, the listener that wakes them, and closing. Each
 * kind supplies where deliveries come from and how acks are settled.
 */
import type { Consumer, DeliveryObserver } from "../telemetry/delivery-observer.js";
import type { DeliverySink, Subscription } from "./subscription.js";
import { heartbeatResponse, startHeartbeat } from "./subscription-responses.js";

/** Settings every subscription has. */
export interface BaseSubscriptionOptions {
  /** Server-assigned id (for a group member, also the member id). */
  readonly id: string;
  /** Most deliveries outstanding at once. */
  readonly maxInFlight: number;
  /** When true, deliveries are also limited by granted credit. */
  readonly manualCredit: boolean;
  /** Heartbeat interval in ms; 0 turns heartbeats off. */
  readonly heartbeatMs: number;
  /** Told about deliveries, acks, nacks and expired events (counters, metrics, flow outcomes). */
  readonly observer?: DeliveryObserver;
  /** Most bytes (encoded envelopes) of deliveries outstanding at once; the first delivery goes whatever its size. */
  readonly maxUnackedBytes?: number;
}

/** The part of a live subscription both kinds share. */
export abstract class BaseSubscription implements Subscription {
  readonly id: string;
  /** Where deliveries and control messages go. */
  protected readonly sink: DeliverySink;
  /** Told about each delivery, ack, nack and expired event. */
  protected readonly observer: DeliveryObserver | undefined;
  /** Who consumes, as the observer is told. */
  protected readonly consumer: Consumer;
  /** Set once by `close`; nothing is delivered or written after it. */
  protected closed = false;
  readonly #settings: BaseSubscriptionOptions;
  #credit = 0;
  #unlisten: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  /** `group` is the consumer group's name, "" for a broadcast subscription. */
  protected constructor(sink: DeliverySink, options: BaseSubscriptionOptions, group: string) {
    this.id = options.id;
    this.sink = sink;
    this.#settings = options;
    this.observer = options.observer;
    this.consumer = { subscriptionId: options.id, group };
  }

  abstract get inFlight(): number;
  abstract start(): void;
  abstract ack(deliveryIds: readonly string[], confirm: boolean): void;
  abstract nack(deliveryIds: readonly string[], delayMs: number | undefined, reason: string): void;
  abstract extend(deliveryIds: readonly string[], extensionMs: number): void;
  abstract close(): void;

  /** Looks for deliveries to send now (a grant, an ack or new work may have made room). */
  protected abstract schedule(): void;

  /** Grants more deliveries (manual credit). */
  grant(count: number): void {
    this.#credit += count;
    this.schedule();
  }

  /**
   * Begins: keeps `unlisten` (what stops the listener that wakes the
   * subscription) for `close`, and starts heartbeats that report `inFlight`.
   */
  protected listen(unlisten: () => void): void {
    this.#unlisten = unlisten;
    this.#heartbeat = startHeartbeat(this.#settings.heartbeatMs, () => {
      if (!this.closed) this.sink.write(heartbeatResponse(this.inFlight));
    });
  }

  /** Marks the subscription closed and stops its listener and heartbeats; false when it was closed already. */
  protected shutdown(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.#unlisten?.();
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    return true;
  }

  /** How many more deliveries the window (and, with manual credit, the credit) allows with `used` slots taken. */
  protected windowRoom(used: number): number {
    const window = this.#settings.maxInFlight - used;
    return this.#settings.manualCredit ? Math.min(window, this.#credit) : window;
  }

  /** Counts one delivery against the credit, with manual credit. */
  protected spendCredit(): void {
    if (this.#settings.manualCredit) this.#credit -= 1;
  }
}
