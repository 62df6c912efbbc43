/**
 * Delivery counters per event type, since the server started: published,
 * delivered, acked, nacked, expired (skipped by broadcast subscriptions) and
 * dead-lettered. Exposed by `GetDeliveryStats`. The number of types is
 * capped like the metrics' labels: past the cap, types count as `other`.
 */
import type { TypeStats } from "@protobus/sdk/proto";
import type { StoredEvent } from "../storage/backend.js";
import type { DeliveryObserver } from "../telemetry/delivery-observer.js";
import { TypeLabels } from "../telemetry/type-labels.js";

type Counter = "published" | "delivered" | "acked" | "nacked" | "expired" | "deadLettered";

/** Counters per event type; as a {@link DeliveryObserver} it counts what subscriptions report. */
export class DeliveryMetrics implements DeliveryObserver {
  readonly #byType = new Map<string, Record<Counter, number>>();
  readonly #types: TypeLabels;

  /** `maxTypes`: distinct types counted on their own; the rest count as `other`. */
  constructor(maxTypes?: number) {
    this.#types = new TypeLabels(maxTypes);
  }

  /** Adds `n` to one counter of a type. */
  count(type: string, counter: Counter, n = 1): void {
    let entry = this.#byType.get(type);
    if (entry === undefined) {
      type = this.#types.label(type);
      entry = this.#byType.get(type);
    }
    if (entry === undefined) {
      entry = { published: 0, delivered: 0, acked: 0, nacked: 0, expired: 0, deadLettered: 0 };
      this.#byType.set(type, entry);
    }
    entry[counter] += n;
  }

  /** Counts a delivery. */
  delivered(stored: StoredEvent): void {
    this.count(stored.type, "delivered");
  }

  /** Counts an ack. */
  acked(stored: StoredEvent): void {
    this.count(stored.type, "acked");
  }

  /** Counts a nack. */
  nacked(stored: StoredEvent): void {
    this.count(stored.type, "nacked");
  }

  /** Counts a dead letter. */
  deadLettered(stored: StoredEvent): void {
    this.count(stored.type, "deadLettered");
  }

  /** Counts an event a broadcast subscription skipped as expired. */
  expired(stored: StoredEvent): void {
    this.count(stored.type, "expired");
  }

  /** Every type's counters, by type name. */
  snapshot(): TypeStats[] {
    return [...this.#byType.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([type, c]) => ({
        type,
        published: BigInt(c.published),
        delivered: BigInt(c.delivered),
        acked: BigInt(c.acked),
        nacked: BigInt(c.nacked),
        expired: BigInt(c.expired),
        deadLettered: BigInt(c.deadLettered),
      }));
  }
}
