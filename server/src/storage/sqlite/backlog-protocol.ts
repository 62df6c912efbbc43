/**
 * What the main thread and the backlog reader thread say to each other: a
 * read request, and its answer packed into one `ArrayBuffer` that is
 * transferred, not copied. Both sides import the read bounds from here, so
 * a read answered by the thread is bounded exactly as one answered from the
 * recent cache.
 */

/**
 * Most bytes of envelopes one read returns (but always at least one event):
 * a read of many large events stops early and the reader asks again.
 */
export const MAX_READ_BYTES = 8 * 1024 * 1024;

/** Most rows one read looks at, matching or not: a sparse pattern returns early with `scannedTo`. */
export function scanLimit(limit: number): number {
  return Math.max(limit * 16, 4096);
}

/** What the backlog reader thread is started with. */
export interface BacklogWorkerData {
  /** The database file (`events.db`), opened read-only by the thread. */
  readonly path: string;
}

/** A read of the events after `afterSequence`, with the semantics of `StorageBackend.read`. */
export interface BacklogRequest {
  /** Pairs the answer with its request. */
  readonly id: number;
  readonly afterSequence: bigint;
  readonly limit: number;
  /** The matcher's patterns (compiled again by the thread); every event when absent. */
  readonly patterns: readonly string[] | undefined;
}

/** A successful read, packed (see {@link packedSize} for the layout). */
export interface BacklogAnswer {
  readonly id: number;
  readonly ok: true;
  /** Every event up to this sequence has been looked at. */
  readonly scannedTo: bigint;
  /** The packed events; transferred with the message. */
  readonly buffer: ArrayBuffer;
  /** How many events `buffer` holds. */
  readonly count: number;
  /** The distinct types of the events; `buffer` names each event's by index. */
  readonly types: readonly string[];
  /** The distinct ordering keys of the events, `""` first; `buffer` names each event's by index. */
  readonly keys: readonly string[];
  /** The thread that read them, so that tests can tell it is not the main one. */
  readonly threadId: number;
}

/** A failed read: the error's message and SQLite code, mapped to a status by the main thread. */
export interface BacklogFailure {
  readonly id: number;
  readonly ok: false;
  readonly message: string;
  readonly code: string | undefined;
}

/** What the backlog reader thread posts back. */
export type BacklogReply = BacklogAnswer | BacklogFailure;

/** A packed priority that says the thread could not read it: the main thread reads the envelope itself. */
export const UNKNOWN_PRIORITY = 0xffffffff;

/**
 * The packed form of `count` events: `count` sequences (BigInt64), expire
 * times (Float64, ms), body lengths (Uint32), type indexes (Uint32),
 * priorities (Uint32, or {@link UNKNOWN_PRIORITY}) and ordering-key indexes
 * (Uint32), then the bodies back to back. The thread reads each envelope's
 * priority and ordering key while it packs it, so the main thread, which
 * orders group backlogs by them, does not scan the bytes again. Every array starts at a multiple of its
 * element size, so the main thread reads them through views, no copy.
 */
export function packedSize(count: number, bodyBytes: number): number {
  return bodiesOffset(count) + bodyBytes;
}

/** Where the bodies of `count` packed events start. */
export function bodiesOffset(count: number): number {
  return count * 32;
}

/** Views of a packed buffer's arrays, for writing (in the thread) or reading (in the main thread). */
export interface PackedViews {
  readonly sequences: BigInt64Array;
  readonly expireTimes: Float64Array;
  readonly lengths: Uint32Array;
  readonly typeIndexes: Uint32Array;
  readonly priorities: Uint32Array;
  readonly keyIndexes: Uint32Array;
}

/** The arrays of a buffer packed with `count` events. */
export function packedViews(buffer: ArrayBuffer, count: number): PackedViews {
  return {
    sequences: new BigInt64Array(buffer, 0, count),
    expireTimes: new Float64Array(buffer, count * 8, count),
    lengths: new Uint32Array(buffer, count * 16, count),
    typeIndexes: new Uint32Array(buffer, count * 20, count),
    priorities: new Uint32Array(buffer, count * 24, count),
    keyIndexes: new Uint32Array(buffer, count * 28, count),
  };
}
