/**
 * A subscription counted in the `protobus_active_subscriptions` gauge from
 * its start to its close, under its consumer group (empty for broadcast).
 */
import type { BusMetrics } from "../telemetry/metrics.js";
import type { Subscription } from "./subscription.js";

/** Wraps a subscription so that the gauge follows its life. */
export class CountedSubscription implements Subscription {
  readonly #inner: Subscription;
  readonly #metrics: BusMetrics;
  readonly #group: string;
  #counted = false;
  #closed = false;

  constructor(inner: Subscription, metrics: BusMetrics, group: string) {
    this.#inner = inner;
    this.#metrics = metrics;
    this.#group = group;
  }

  get id(): string {
    return this.#inner.id;
  }

  get inFlight(): number {
    return this.#inner.inFlight;
  }

  start(): void {
    if (this.#closed || this.#counted) return;
    this.#counted = true;
    this.#metrics.recordSubscriptionOpened(this.#group);
    this.#inner.start();
  }

  ack(deliveryIds: readonly string[], confirm: boolean): void {
    this.#inner.ack(deliveryIds, confirm);
  }

  nack(deliveryIds: readonly string[], delayMs: number | undefined, reason: string): void {
    this.#inner.nack(deliveryIds, delayMs, reason);
  }

  extend(deliveryIds: readonly string[], extensionMs: number): void {
    this.#inner.extend(deliveryIds, extensionMs);
  }

  grant(count: number): void {
    this.#inner.grant(count);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inner.close();
    if (this.#counted) this.#metrics.recordSubscriptionClosed(this.#group);
  }
}
