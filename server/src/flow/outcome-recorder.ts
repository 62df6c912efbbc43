/**
 * Remembers what each consumer did with each recent event (delivered,
 * acked, retried, dead-lettered), for `GetFlow`. Fed by the delivery points
 * of broadcast subscriptions and consumer groups through the
 * {@link DeliveryObserver} interface. Kept in memory and bounded: outcomes
 * are kept for the newest `capacity` sequences that were delivered; an
 * event is forgotten once one `capacity` sequences above it is delivered
 * (the events themselves stay in the store).
 */
import { OutcomeState, type ConsumerOutcome } from "@protobus/sdk/proto";
import type { StoredEvent } from "../storage/backend.js";
import type { Consumer, DeliveryObserver } from "../telemetry/delivery-observer.js";

/** One consumer's outcome of one event. */
interface Entry {
  /** The event's sequence. */
  readonly seq: number;
  /** Which consumer: `g:<group>` for a group, `s:<subscription id>` for a broadcast subscription. */
  readonly key: string;
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
  /*
   * Outcomes by event sequence in a ring: the slot of sequence `s` is
   * `s % capacity`, and a slot holds the outcomes of one sequence. A new
   * sequence takes over its slot, forgetting the sequence `capacity` below
   * it: what is kept is the newest `capacity` sequences that were
   * delivered, with no hash map to grow, probe and evict.
   *
   * Nearly every event has one consumer: its outcome lives in the columns
   * below (typed arrays, and arrays of the consumer's own strings), so that
   * recording a delivery allocates nothing. An object per delivery kept for
   * the newest 100,000 events outlived the young generation: each one was
   * copied and promoted, and a scavenge of a server delivering 2,000
   * events/s paused it for milliseconds. Further consumers of an event (a
   * broadcast to several subscriptions, several groups) are kept as
   * objects in `#more`.
   */
  /** The slot's sequence; 0 when the slot is empty (sequences start at 1). */
  readonly #seq: Float64Array;
  readonly #key: (string | undefined)[];
  readonly #group: string[];
  readonly #subscriptionId: string[];
  readonly #state: Uint8Array;
  readonly #attempts: Uint32Array;
  readonly #retries: Uint32Array;
  readonly #firstDelivery: Float64Array;
  readonly #updated: Float64Array;
  /** The outcomes of further consumers of a slot's sequence, by slot. */
  readonly #more = new Map<number, Entry[]>();
  /** The first consumer's outcome of the slot being changed, loaded from the columns and saved back. */
  readonly #cursor: { -readonly [K in keyof Entry]: Entry[K] } & { slot: number };
  /** Each consumer's key, built once per subscription instead of per call. */
  readonly #keys = new WeakMap<Consumer, string>();
  /** The consumer last seen and its key: a group's deliveries and acks come in runs of one consumer. */
  #lastConsumer: Consumer | undefined;
  #lastKey = "";

  constructor(capacity = DEFAULT_OUTCOME_CAPACITY) {
    this.#capacity = capacity;
    this.#seq = new Float64Array(capacity);
    this.#key = new Array<string | undefined>(capacity).fill(undefined);
    this.#group = new Array<string>(capacity).fill("");
    this.#subscriptionId = new Array<string>(capacity).fill("");
    this.#state = new Uint8Array(capacity);
    this.#attempts = new Uint32Array(capacity);
    this.#retries = new Uint32Array(capacity);
    this.#firstDelivery = new Float64Array(capacity);
    this.#updated = new Float64Array(capacity);
    this.#cursor = { slot: -1, seq: 0, key: "", group: "", subscriptionId: "", state: 0, attempts: 0, retries: 0, firstDelivery: 0, updated: 0 };
  }

  /** Outcomes of the event with this sequence, one per consumer. */
  outcomes(sequence: bigint): ConsumerOutcome[] {
    const seq = Number(sequence);
    const slot = seq % this.#capacity;
    if (this.#seq[slot] !== seq) return [];
    const consumers = [this.#load(slot), ...(this.#more.get(slot) ?? [])];
    return consumers.map((e) => ({
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
    this.#save(entry);
  }

  acked(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    const seq = Number(stored.sequence);
    const slot = seq % this.#capacity;
    if (this.#seq[slot] === seq && this.#key[slot] === this.#keyOf(consumer)) {
      // The slot's first consumer: three columns change.
      this.#subscriptionId[slot] = consumer.subscriptionId;
      this.#state[slot] = OutcomeState.OUTCOME_STATE_ACKED;
      this.#updated[slot] = Date.now();
      return;
    }
    const entry = this.#entry(stored.sequence, consumer);
    entry.subscriptionId = consumer.subscriptionId;
    entry.state = OutcomeState.OUTCOME_STATE_ACKED;
    this.#save(entry);
  }

  nacked(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    const entry = this.#entry(stored.sequence, consumer);
    entry.retries += 1;
    if (entry.state !== OutcomeState.OUTCOME_STATE_ACKED) entry.state = OutcomeState.OUTCOME_STATE_RETRYING;
    this.#save(entry);
  }

  deadLettered(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    const entry = this.#entry(stored.sequence, consumer);
    entry.state = OutcomeState.OUTCOME_STATE_DEAD_LETTERED;
    // The member's nack (or expired deadline) that led here was its last attempt, not a retry.
    entry.retries = Math.max(0, Math.min(entry.retries, entry.attempts - 1));
    this.#save(entry);
  }

  /** The consumer's outcome of the sequence, created when new; pass it to `#save` once changed. */
  #entry(sequence: bigint, consumer: Consumer): Entry {
    const now = Date.now();
    const seq = Number(sequence);
    const slot = seq % this.#capacity;
    const key = this.#keyOf(consumer);
    let entry: Entry;
    if (this.#seq[slot] !== seq) {
      // Empty, or an older sequence's: the new sequence takes the slot over.
      if (this.#more.size !== 0) this.#more.delete(slot);
      entry = this.#fresh(slot, seq, key, consumer, now);
    } else if (this.#key[slot] === key) {
      entry = this.#load(slot);
    } else {
      const more = this.#more.get(slot);
      const found = more?.find((e) => e.key === key);
      if (found !== undefined) {
        entry = found;
      } else {
        entry = newEntry(seq, key, consumer, now);
        if (more === undefined) this.#more.set(slot, [entry]);
        else more.push(entry);
      }
    }
    entry.updated = now;
    return entry;
  }

  /** The cursor, set to a new outcome of the slot's first consumer. */
  #fresh(slot: number, seq: number, key: string, consumer: Consumer, now: number): Entry {
    const cursor = this.#cursor;
    cursor.slot = slot;
    cursor.seq = seq;
    cursor.key = key;
    cursor.group = consumer.group;
    cursor.subscriptionId = consumer.subscriptionId;
    cursor.state = OutcomeState.OUTCOME_STATE_DELIVERED;
    cursor.attempts = 0;
    cursor.retries = 0;
    cursor.firstDelivery = now;
    cursor.updated = now;
    return cursor;
  }

  /** The cursor, loaded with the outcome of the slot's first consumer. */
  #load(slot: number): Entry {
    const cursor = this.#cursor;
    cursor.slot = slot;
    cursor.seq = this.#seq[slot] as number;
    cursor.key = this.#key[slot] as string;
    cursor.group = this.#group[slot] as string;
    cursor.subscriptionId = this.#subscriptionId[slot] as string;
    cursor.state = this.#state[slot] as OutcomeState;
    cursor.attempts = this.#attempts[slot] as number;
    cursor.retries = this.#retries[slot] as number;
    cursor.firstDelivery = this.#firstDelivery[slot] as number;
    cursor.updated = this.#updated[slot] as number;
    return cursor;
  }

  /** Writes the cursor back to its slot's columns (an outcome of a further consumer is its own object: nothing to do). */
  #save(entry: Entry): void {
    if (entry !== this.#cursor) return;
    const slot = this.#cursor.slot;
    this.#seq[slot] = entry.seq;
    this.#key[slot] = entry.key;
    this.#group[slot] = entry.group;
    this.#subscriptionId[slot] = entry.subscriptionId;
    this.#state[slot] = entry.state;
    this.#attempts[slot] = entry.attempts;
    this.#retries[slot] = entry.retries;
    this.#firstDelivery[slot] = entry.firstDelivery;
    this.#updated[slot] = entry.updated;
  }

  // A group is one consumer whichever member handled it; a broadcast
  // subscription is its own consumer.
  #keyOf(consumer: Consumer): string {
    if (consumer === this.#lastConsumer) return this.#lastKey;
    let key = this.#keys.get(consumer);
    if (key === undefined) {
      key = consumer.group !== "" ? `g:${consumer.group}` : `s:${consumer.subscriptionId}`;
      this.#keys.set(consumer, key);
    }
    this.#lastConsumer = consumer;
    this.#lastKey = key;
    return key;
  }
}

function newEntry(seq: number, key: string, consumer: Consumer, now: number): Entry {
  return {
    seq,
    key,
    group: consumer.group,
    subscriptionId: consumer.subscriptionId,
    state: OutcomeState.OUTCOME_STATE_DELIVERED,
    attempts: 0,
    retries: 0,
    firstDelivery: now,
    updated: now,
  };
}
