/**
 * Remembers what each consumer did with each recent event (delivered,
 * acked, retried, dead-lettered), for `GetFlow`. Fed by the delivery points
 * of broadcast subscriptions and consumer groups through the
 * {@link DeliveryObserver} interface. Kept in memory and bounded: the
 * outcomes of the `capacity` most recently delivered events are kept, older
 * ones are forgotten (the events themselves stay in the store).
 */
import { OutcomeState, type ConsumerOutcome } from "@protobus/sdk/proto";
import type { StoredEvent } from "../storage/backend.js";
import type { Consumer, DeliveryObserver } from "../telemetry/delivery-observer.js";

interface Entry {
  group: string;
  subscriptionId: string;
  state: OutcomeState;
  attempts: number;
  retries: number;
  firstDelivery: number;
  updated: number;
}

/** Default number of events whose outcomes are kept. */
export const DEFAULT_OUTCOME_CAPACITY = 100_000;

/** Consumer outcomes by event sequence. */
export class OutcomeRecorder implements DeliveryObserver {
  readonly #capacity: number;
  readonly #bySequence = new Map<bigint, Map<string, Entry>>();
  /**
   * The sequences of `#bySequence` in insertion order, oldest at `#oldest`.
   * Evicting through the map's own first key would rescan the holes every
   * delete leaves at its front (≈40 µs per event once full).
   */
  #order: bigint[] = [];
  #oldest = 0;

  constructor(capacity = DEFAULT_OUTCOME_CAPACITY) {
    this.#capacity = capacity;
  }

  /** Outcomes of the event with this sequence, one per consumer. */
  outcomes(sequence: bigint): ConsumerOutcome[] {
    const consumers = this.#bySequence.get(sequence);
    if (consumers === undefined) return [];
    return [...consumers.values()].map((e) => ({
      group: e.group,
      subscriptionId: e.subscriptionId,
      state: e.state,
      attempts: e.attempts,
      retries: e.retries,
      firstDeliveryTime: new Date(e.firstDelivery),
      updateTime: new Date(e.updated),
    }));
  }

  delivered(stored: StoredEvent, attempt: number, consumer: Consumer): void {
    const entry = this.#entry(stored.sequence, consumer);
    entry.subscriptionId = consumer.subscriptionId;
    entry.attempts = Math.max(entry.attempts, attempt);
    // A redelivery without a nack seen here: its ack deadline passed.
    entry.retries = Math.max(entry.retries, attempt - 1);
    if (entry.state !== OutcomeState.OUTCOME_STATE_ACKED) entry.state = OutcomeState.OUTCOME_STATE_DELIVERED;
  }

  acked(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    const entry = this.#entry(stored.sequence, consumer);
    entry.subscriptionId = consumer.subscriptionId;
    entry.state = OutcomeState.OUTCOME_STATE_ACKED;
  }

  nacked(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    const entry = this.#entry(stored.sequence, consumer);
    entry.retries += 1;
    if (entry.state !== OutcomeState.OUTCOME_STATE_ACKED) entry.state = OutcomeState.OUTCOME_STATE_RETRYING;
  }

  deadLettered(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    const entry = this.#entry(stored.sequence, consumer);
    entry.state = OutcomeState.OUTCOME_STATE_DEAD_LETTERED;
    // The member's nack (or expired deadline) that led here was its last attempt, not a retry.
    entry.retries = Math.max(0, Math.min(entry.retries, entry.attempts - 1));
  }

  #entry(sequence: bigint, consumer: Consumer): Entry {
    const now = Date.now();
    let consumers = this.#bySequence.get(sequence);
    if (consumers === undefined) {
      consumers = new Map();
      this.#bySequence.set(sequence, consumers);
      this.#order.push(sequence);
      if (this.#bySequence.size > this.#capacity) {
        this.#bySequence.delete(this.#order[this.#oldest] as bigint);
        this.#oldest += 1;
        if (this.#oldest >= this.#capacity) {
          this.#order = this.#order.slice(this.#oldest);
          this.#oldest = 0;
        }
      }
    }
    // A group is one consumer whichever member handled it; a broadcast
    // subscription is its own consumer.
    const key = consumer.group !== "" ? `g:${consumer.group}` : `s:${consumer.subscriptionId}`;
    let entry = consumers.get(key);
    if (entry === undefined) {
      entry = {
        group: consumer.group,
        subscriptionId: consumer.subscriptionId,
        state: OutcomeState.OUTCOME_STATE_DELIVERED,
        attempts: 0,
        retries: 0,
        firstDelivery: now,
        updated: now,
      };
      consumers.set(key, entry);
    }
    entry.updated = now;
    return entry;
  }
}
