/**
 * The points where a delivery changes state: the one observation pipeline
 * of the bus. Subscriptions (broadcast and consumer groups) call one
 * observer, which the bus combines from the per-type delivery counters
 * (GetDeliveryStats), the Prometheus metrics and the flow outcome recorder;
 * each decides what it keeps. Calls are synchronous and must not throw.
 */
import type { StoredEvent } from "../storage/backend.js";

/** Who consumes: one object per subscription, shared by all its deliveries. */
export interface Consumer {
  /** The subscription id. */
  readonly subscriptionId: string;
  /** The consumer group; empty for a broadcast subscription. */
  readonly group: string;
}

/** Told about every delivery state change. */
export interface DeliveryObserver {
  /** An event was sent to a consumer (attempt 1 first, then redeliveries). */
  delivered(stored: StoredEvent, attempt: number, consumer: Consumer): void;
  /** The consumer acked it. */
  acked(stored: StoredEvent, attempt: number, consumer: Consumer): void;
  /** The consumer nacked it: it will be redelivered (or dead-lettered, reported next). */
  nacked(stored: StoredEvent, attempt: number, consumer: Consumer): void;
  /** It went to the group's dead-letter queue after its last attempt. */
  deadLettered(stored: StoredEvent, attempt: number, consumer: Consumer): void;
  /** A broadcast subscription skipped it: its TTL had passed when it was read. */
  expired?(stored: StoredEvent, consumer: Consumer): void;
}

/** Fans each call out to several observers. */
export function combineObservers(observers: readonly (DeliveryObserver | undefined)[]): DeliveryObserver | undefined {
  const list = observers.filter((o): o is DeliveryObserver => o !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  const expiring = list.filter((o) => o.expired !== undefined);
  return {
    delivered: (s, a, c) => {
      for (const o of list) o.delivered(s, a, c);
    },
    acked: (s, a, c) => {
      for (const o of list) o.acked(s, a, c);
    },
    nacked: (s, a, c) => {
      for (const o of list) o.nacked(s, a, c);
    },
    deadLettered: (s, a, c) => {
      for (const o of list) o.deadLettered(s, a, c);
    },
    expired: (s, c) => {
      for (const o of expiring) o.expired?.(s, c);
    },
  };
}
