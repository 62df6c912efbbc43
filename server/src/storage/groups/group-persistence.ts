/**
 * What the shared group engine needs a backend to keep: the group's
 * definition, its floor (every matching event at or below it is settled or
 * recorded as a retry), the settled events above the floor, retry records
 * (events that failed at least once: their attempt count and when they are
 * due), dead letters and counters. The memory and SQLite backends implement
 * it; writes come in batches (see the engine for when), which a durable
 * backend commits in one transaction each.
 */
import type { GroupDefinition, GroupSettings } from "../group-store.js";

/** Cumulative counters of a group. */
export interface GroupCounters {
  delivered: number;
  redelivered: number;
  acked: number;
  nacked: number;
  deadLettered: number;
  expired: number;
}

/** A fresh set of counters. */
export function zeroCounters(): GroupCounters {
  return { delivered: 0, redelivered: 0, acked: 0, nacked: 0, deadLettered: 0, expired: 0 };
}

/** An event that failed at least once and waits for redelivery. */
export interface RetryRecord {
  readonly sequence: number;
  /** Deliveries made so far. */
  readonly attempts: number;
  /** When it may be delivered again, in ms since the epoch. */
  readonly dueAt: number;
  /** Why the last delivery failed. */
  readonly reason: string;
}

/** An event in the dead-letter queue. */
export interface DeadRecord {
  readonly sequence: number;
  readonly attempts: number;
  readonly reason: string;
  /** When it was dead-lettered, in ms since the epoch. */
  readonly deadAt: number;
}

/** A group as loaded at start. */
export interface PersistedGroup {
  readonly definition: GroupDefinition;
  readonly floor: number;
  readonly counters: GroupCounters;
  /** Settled (acked) sequences above the floor. */
  readonly settled: readonly number[];
  /** Dead-lettered sequences above the floor. */
  readonly deadAboveFloor: readonly number[];
  /** Every retry record. */
  readonly retries: readonly RetryRecord[];
  /**
   * Set when the stored row could not be read whole: why. The group is
   * then listed as broken (see `broken-group.ts`) instead of run.
   */
  readonly problem?: string;
}

/** The writes of one commit. */
export interface GroupBatch {
  /** The new floor. */
  readonly floor: number;
  /** Sequences acked since the last commit that lie above the new floor. */
  readonly settled: readonly number[];
  /** Retry records to write (replacing any for the same sequence). */
  readonly retries: readonly RetryRecord[];
  /** Sequences whose retry record goes (acked, dead-lettered). */
  readonly clearedRetries: readonly number[];
  /** New dead letters. */
  readonly dead: readonly DeadRecord[];
  /** The counters now. */
  readonly counters: GroupCounters;
}

/** Which dead letters an operation touches. */
export type DeadSelection = { readonly all: true } | { readonly sequences: readonly number[] };

/**
 * Storage of group state for the shared engine. Reads are synchronous (an
 * in-process store, or an in-memory mirror of a remote one); `commit` may
 * return a promise, for a store that writes over the network: the engine
 * resolves the acks of a batch only once that promise resolves.
 */
export interface GroupPersistence {
  /** Every stored group. */
  loadAll(): PersistedGroup[];
  /** One stored group, as it is now; undefined when there is none. */
  load(name: string): PersistedGroup | undefined;
  /** Stores a new group. */
  create(definition: GroupDefinition, floor: number): void;
  /** Replaces a group's settings. */
  updateSettings(name: string, settings: GroupSettings): void;
  /**
   * Writes one batch atomically. Returns nothing when the batch is
   * durable on return, or a promise that resolves once it is.
   */
  commit(name: string, batch: GroupBatch): void | Promise<void>;
  /** Removes a group and everything it keeps. */
  delete(name: string): void;
  /** Dead letters after a sequence, in sequence order. */
  listDead(name: string, afterSequence: number, limit: number): DeadRecord[];
  /** How many dead letters the group has. */
  countDead(name: string): number;
  /** Runs `fn` as one atomic unit (one transaction on a durable store). */
  atomically<T>(fn: () => T): T;
  /** Removes selected dead letters and returns them. */
  takeDead(name: string, selection: DeadSelection): DeadRecord[];
}
