/**
 * The points where a delivery changes state, as seen by metrics and the flow
 * outcome recorder. Subscriptions (broadcast and consumer groups) call an
 * observer; the observer decides what it keeps. Calls are synchronous and
 * must not throw.
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
}

/** Fans each call out to several observers. */
export function combineObservers(observers: readonly (DeliveryObserver | undefined)[]): DeliveryObserver | undefined {
  const list = observers.filter((o): o is DeliveryObserver => o !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return {
    delivered: (s, a, c) => list.forEach((o) => o.delivered(s, a, c)),
    acked: (s, a, c) => list.forEach((o) => o.acked(s, a, c)),
    nacked: (s, a, c) => list.forEach((o) => o.nacked(s, a, c)),
    deadLettered: (s, a, c) => list.forEach((o) => o.deadLettered(s, a, c)),
  };
}
