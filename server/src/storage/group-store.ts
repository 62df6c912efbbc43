/**
 * The consumer-group contract: what a backend must offer so that a group's
 * members share its events, with acks, redelivery with backoff, dead letters,
 * priority, TTL and ordering keys. It is shaped around the operations a group
 * needs, not around how a backend keeps them: the memory and SQLite backends
 * run the shared in-process engine (`storage/groups/`), a distributed backend
 * maps the same operations onto its own consumers (for JetStream: a durable
 * pull consumer with AckWait, MaxDeliver and BackOff, and a dead-letter
 * stream), so that several protobus servers on one store can share a group.
 *
 * Delivery ids are opaque strings the store makes; the bus passes them back
 * unchanged. Every method may be called concurrently.
 */
import type { StoredEvent } from "./stored-event.js";

/** How a group redelivers. */
export interface GroupSettings {
  /** A delivery neither acked nor nacked within this many ms is redelivered. */
  readonly ackDeadlineMs: number;
  /** After this many deliveries an unacked event moves to the dead-letter queue. */
  readonly maxDeliveries: number;
  /** First redelivery delay after a failed delivery (nack without delay, deadline passed), in ms. */
  readonly backoffMinMs: number;
  /** The redelivery delay doubles per attempt up to this many ms. */
  readonly backoffMaxMs: number;
}

/** The settings a group gets when it is created without any. */
export const DEFAULT_GROUP_SETTINGS: GroupSettings = {
  ackDeadlineMs: 30_000,
  maxDeliveries: 5,
  backoffMinMs: 1_000,
  backoffMaxMs: 60_000,
};

/** Opens a group, creating it on first use. */
export interface OpenGroupRequest {
  /** The group name: 1..128 characters of `[A-Za-z0-9_.-]`. */
  readonly name: string;
  /** Event type patterns of the group (fixed at creation). */
  readonly patterns: readonly string[];
  /** Filter expression of the group (fixed at creation); empty for none. */
  readonly filter: string;
  /** Settings to apply; absent fields keep the stored ones (or the defaults on creation). */
  readonly settings: Partial<GroupSettings>;
  /** On creation, the group starts with the events after this sequence. */
  readonly startAfter: bigint;
}

/** What a group is. */
export interface GroupDefinition {
  readonly name: string;
  readonly patterns: readonly string[];
  readonly filter: string;
  readonly settings: GroupSettings;
  /** When it was created. */
  readonly createdAt: Date;
}

/** One event handed to one member. */
export interface GroupDelivery {
  /** The event. */
  readonly stored: StoredEvent;
  /** The id to ack, nack or extend this delivery with. */
  readonly deliveryId: string;
  /** 1 on first delivery, counting up on redeliveries. */
  readonly attempt: number;
}

/** Counters and gauges of a group. */
export interface GroupStats {
  readonly definition: GroupDefinition;
  /** Members attached now (across every server sharing the store when the backend can tell). */
  readonly members: number;
  /** Matching events not yet delivered or waiting for redelivery (not in flight, not settled). */
  readonly backlog: number;
  /** Deliveries outstanding (handed to a member, neither acked nor failed yet). */
  readonly inFlight: number;
  /** Events in the dead-letter queue now. */
  readonly deadLetters: number;
  /** Deliveries made, first attempts and redeliveries. */
  readonly delivered: number;
  /** Of those, redeliveries (attempt > 1). */
  readonly redelivered: number;
  /** Events acked. */
  readonly acked: number;
  /** Nacks received. */
  readonly nacked: number;
  /** Events moved to the dead-letter queue (ever). */
  readonly deadLettered: number;
  /** Events not delivered because their `expire_time` had passed. */
  readonly expired: number;
  /**
   * Set when the stored group cannot run on this server (its definition
   * does not load or compile): why. Such a group takes no members until it
   * is deleted and created again.
   */
  readonly broken?: string;
}

/** One entry of a group's dead-letter queue. */
export interface DeadLetter {
  /** The event. */
  readonly stored: StoredEvent;
  /** Deliveries made before it was dead-lettered. */
  readonly attempts: number;
  /** Why the last delivery failed (a nack reason, `ack deadline passed`, ...). */
  readonly reason: string;
  /** When it was dead-lettered. */
  readonly deadAt: Date;
}

/** Selects dead letters. */
export interface DeadLetterQuery {
  /** Only events with a sequence greater than this. */
  readonly afterSequence: bigint;
  /** At most this many. */
  readonly limit: number;
  /** Only these event types (patterns); all when empty. */
  readonly patterns?: readonly string[];
}

/** Names dead letters to act on: every one, or those with these sequences. */
export type DeadLetterSelection = { readonly all: true } | { readonly sequences: readonly bigint[] };

/** How an ack settles deliveries. */
export interface AckOptions {
  /**
   * True (the default) when the caller waits for the ack to be durable; the
   * promise then resolves once it is. When false, it resolves once the ack
   * is applied, and the store commits it within a short interval (the
   * engine's commit interval): a crash before that delivers the event again.
   */
  readonly confirm?: boolean;
  /** Told about each delivery the ack settles (see {@link ActedListener}). */
  readonly onActed?: ActedListener;
}

/**
 * Told about each delivery an ack settles or a nack gives back, as the
 * store acts on it: before anything it causes (a dead letter) is reported,
 * once per event, with the attempt the delivery id names. Per-type
 * counters and the delivery observer count from it.
 */
export type ActedListener = (delivery: GroupDelivery) => void;

/** How a nack gives a delivery back. */
export interface NackOptions {
  /** Redeliver after exactly this many ms; the group's backoff when absent. */
  readonly delayMs?: number;
  /** Why it failed, kept with a dead letter. */
  readonly reason?: string;
  /** Told about each delivery the nack gives back (see {@link ActedListener}). */
  readonly onActed?: ActedListener;
}

/**
 * A group opened in this process. Members join, claim deliveries and settle
 * them; the store keeps the group's position, pending redeliveries and dead
 * letters, durably when the backend is durable.
 */
export interface GroupHandle {
  /** The group as stored. */
  readonly definition: GroupDefinition;

  /** Adds a member (counted in stats). */
  join(memberId: string): void;

  /**
   * Removes a member: its outstanding deliveries go back to the group at
   * once, to be redelivered to another member (they count as attempts).
   */
  leave(memberId: string): Promise<void>;

  /**
   * Hands up to `max` deliverable events to a member: redeliveries that are
   * due and new events, lowest `priority` value first, then sequence order;
   * an event whose ordering key has an earlier event outstanding waits;
   * expired events are settled as expired and never handed out. Resolves to
   * an empty list when nothing is deliverable now. With `maxBytes`, the
   * deliveries after the first stop before their encoded envelopes would
   * add up to more than that (a member's unacked-bytes budget).
   */
  claim(memberId: string, max: number, maxBytes?: number): Promise<GroupDelivery[]>;

  /** Deliveries handed to this member and not yet settled, failed or expired. */
  inFlightOf(memberId: string): number;

  /** Bytes (encoded envelopes) of the deliveries counted by `inFlightOf`. */
  inFlightBytesOf(memberId: string): number;

  /**
   * Settles deliveries: their events are never delivered to this group
   * again. Resolves once that is durable, or, with `confirm: false`, once
   * it is applied (durable shortly after; see {@link AckOptions}). Unknown
   * or already settled ids are ignored. A late ack (after the deadline
   * passed) still settles the event if it has not been settled otherwise.
   * `onActed` hears of each delivery it settles.
   */
  ack(deliveryIds: readonly string[], options?: AckOptions): Promise<void>;

  /**
   * Gives deliveries back for redelivery (or dead-lettering at max
   * deliveries). Stale ids are ignored. `onActed` hears of each delivery it
   * gives back.
   */
  nack(deliveryIds: readonly string[], options: NackOptions): Promise<void>;

  /** Moves the ack deadline of deliveries to now + `extensionMs` (the group's ack deadline when 0). */
  extend(deliveryIds: readonly string[], extensionMs: number): Promise<void>;

  /**
   * Registers a listener called when `claim` may return something new (an
   * append, a redelivery falling due, an ordering key freed, a redrive), and
   * when the group is deleted (`claim` then throws NOT_FOUND).
   * Returns the function that removes it.
   */
  onReady(listener: () => void): () => void;

  /**
   * Registers a listener told about each event this process moves to the
   * dead-letter queue (for metrics). Returns the function that removes it.
   */
  onDeadLetter(listener: (stored: StoredEvent) => void): () => void;

  /**
   * Gives back an open whose member never joined (its stream ended before
   * it started), so that a group nobody uses can be released from memory.
   * The group stays in the store.
   */
  close(): Promise<void>;
}

/** The consumer groups of a backend. */
export interface GroupStore {
  /**
   * Opens a group, creating it when missing. Throws FAILED_PRECONDITION when
   * it exists with other patterns or another filter, RESOURCE_EXHAUSTED
   * (`max-groups`) when it would load one group more than the store may
   * hold at once. Opening the same group twice in one process returns
   * handles sharing one state. Each open is followed by one `join` or one
   * `close` of the handle.
   */
  open(request: OpenGroupRequest): Promise<GroupHandle>;

  /** Every group, by name. */
  list(): Promise<GroupStats[]>;

  /** One group, or undefined. */
  get(name: string): Promise<GroupStats | undefined>;

  /**
   * Deletes a group, its position, pending redeliveries and dead letters.
   * Its members' streams end. Resolves to false when there was no such group.
   */
  delete(name: string): Promise<boolean>;

  /** Reads a group's dead letters in sequence order. NOT_FOUND for an unknown group. */
  listDeadLetters(name: string, query: DeadLetterQuery): Promise<DeadLetter[]>;

  /**
   * Moves dead letters back into the group as new deliveries (attempts start
   * over). Resolves to how many moved.
   */
  redrive(name: string, selection: DeadLetterSelection): Promise<number>;

  /** Drops dead letters for good. Resolves to how many were dropped. */
  purge(name: string, selection: DeadLetterSelection): Promise<number>;

  /**
   * The stored groups that did not load when the store opened (and why):
   * they are listed as broken, take no members, and can be deleted. A store
   * that loads groups only when they are used reports none here.
   */
  loadProblems(): ReadonlyArray<{ readonly name: string; readonly reason: string }>;
}
