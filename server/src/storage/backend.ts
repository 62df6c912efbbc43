/**
 * The one storage contract. The bus, the registry and the subscription engine
 * talk only to this interface; each backend lives in its own folder under
 * `storage/` and exports one `createXxxBackend(options)` factory. The backend
 * conformance suite in `test/` runs unchanged against every implementation.
 */
import type { Event } from "@protobus/sdk/proto";
import type { PatternMatcher } from "@protobus/sdk/internal";
import type { GroupStore } from "./group-store.js";
import type { PublishedEnvelope, StoredEvent } from "./stored-event.js";
import type { SchemaStore } from "./schema-store.js";

/** The largest sequence any store can hold: a signed 64-bit integer, as SQLite and JetStream keep it. */
export const MAX_SEQUENCE = 2n ** 63n - 1n;

export type { StoredEvent } from "./stored-event.js";
export type { GroupStore } from "./group-store.js";

/** The outcome of appending one event. */
export interface AppendResult {
  /** The event id. */
  readonly id: string;
  /** The sequence the event is stored under; the original one for a duplicate. */
  readonly sequence: bigint;
  /** True when the id was already accepted within the dedupe window. */
  readonly duplicate: boolean;
}

/** Options of one append. */
export interface AppendOptions {
  /**
   * An event whose id was accepted this many milliseconds ago or less is a
   * duplicate: it is not stored again and its result names the original
   * sequence. 0 turns deduplication off.
   */
  readonly dedupeWindowMs: number;
  /**
   * `assignedIds[i]` is true when the server generated event i's id for this
   * append (the publisher sent none). Such an id is new by construction, so
   * the backend may skip its duplicate lookup; it must still record the id.
   */
  readonly assignedIds?: readonly boolean[];
  /**
   * `published[i]`: event i as its publisher encoded it, when the bus has
   * it. A backend may store those bytes followed by the server-set fields
   * (see `encodeStoredEnvelopes`) instead of encoding the event again; the
   * stored envelope decodes to the same event either way.
   */
  readonly published?: readonly (PublishedEnvelope | undefined)[];
}

/** A sequential read for subscriptions: the events after a position. */
export interface ReadRequest {
  /** Read events with a sequence greater than this. */
  readonly afterSequence: bigint;
  /** Return at most this many matching events. */
  readonly limit: number;
  /** Only events whose type it matches; every event when absent. */
  readonly matcher?: PatternMatcher;
}

/** The result of a sequential read. */
export interface ReadResult {
  /** Matching events in sequence order. */
  readonly events: StoredEvent[];
  /**
   * Every event up to this sequence has been looked at: the next read may
   * start after it even when `events` is empty (a sparse pattern skipped
   * non-matching events).
   */
  readonly scannedTo: bigint;
}

/** A history query; every given criterion must hold. */
export interface HistoryQuery {
  /** Only events whose type it matches. */
  readonly matcher?: PatternMatcher;
  /** Only events of this source. */
  readonly source?: string;
  /** Only events of this correlation id. */
  readonly correlationId?: string;
  /** Only events carrying all of these tags. */
  readonly tags?: readonly string[];
  /** Only events published at or after this instant. */
  readonly fromTime?: Date;
  /** Only events published before this instant. */
  readonly toTime?: Date;
  /** Only events with a sequence at least this. */
  readonly fromSequence: bigint;
  /** At most this many events. */
  readonly limit: number;
  /**
   * Look at no more than this many stored events (sequences, on stores
   * whose sequences are dense) in this call, matching or not, so that one
   * call's work is bounded however selective the query is; the page then
   * says how far it looked. Unbounded when absent.
   */
  readonly scanLimit?: number;
}

/** One call's answer to a {@link HistoryQuery}. */
export interface HistoryPage {
  /** The matching events, in sequence order, at most `limit`. */
  readonly events: StoredEvent[];
  /**
   * The highest sequence the call looked at (`fromSequence - 1` when none):
   * a continuation starts after it.
   */
  readonly scannedTo: bigint;
  /** True when the call looked at the whole history from `fromSequence` on (or filled `limit`). */
  readonly complete: boolean;
}

/** Called with the new head sequence after events were appended. */
export type AppendListener = (headSequence: bigint) => void;

/** What a backend is and promises. */
export interface BackendInfo {
  /** Short name: `sqlite`, `memory`, ... */
  readonly kind: string;
  /** True when accepted events survive a restart of the server process. */
  readonly durable: boolean;
  /** Where the data lives, for people (a path, a URL), or empty. */
  readonly location: string;
}

/**
 * A storage backend. Every method may be called concurrently; a backend
 * serializes what must be serialized. Errors are thrown as `ProtobusError`
 * with a gRPC code (each backend maps its own failures in one place).
 */
export interface StorageBackend {
  /** What this backend is. */
  readonly info: BackendInfo;

  /** The schema registry's storage, kept (and as durable) with the events. */
  readonly schemas: SchemaStore;

  /**
   * The consumer groups: durable (on a durable backend) shared positions,
   * pending redeliveries and dead-letter queues. See `group-store.ts`.
   */
  readonly groups: GroupStore;

  /**
   * Stores a batch atomically: either every new event is stored (and durable
   * when the backend is) or none is. Assigns each new event the next sequence
   * and `publishTime`; events must arrive otherwise complete (id, type, ...).
   * Returns one result per input event, in order.
   */
  append(events: readonly Event[], options: AppendOptions): Promise<AppendResult[]>;

  /** Reads the events after a sequence, for subscriptions. */
  read(request: ReadRequest): Promise<ReadResult>;

  /** Reads history in sequence order, looking at no more than `scanLimit` events. */
  query(query: HistoryQuery): Promise<HistoryPage>;

  /** The newest event with this id, or undefined. */
  getEvent(id: string): Promise<StoredEvent | undefined>;

  /** The sequence of the newest stored event; 0 when there is none. */
  headSequence(): Promise<bigint>;

  /**
   * The sequence of the first event published at or after `time`, or
   * head + 1 when there is none.
   */
  sequenceAtTime(time: Date): Promise<bigint>;

  /**
   * Registers a listener told about every append (including appends made by
   * other servers on a shared backend). Returns the function that removes it.
   */
  onAppend(listener: AppendListener): () => void;

  /**
   * Figures of the backend's own work for `/metrics`, read when scraped
   * (the sqlite backend's checkpoints, say); a backend without any leaves
   * it out.
   */
  readonly metrics?: readonly BackendMetric[];

  /** Flushes and releases everything; the backend is unusable afterwards. */
  close(): Promise<void>;
}

/** One figure a backend reports on `/metrics` (see {@link StorageBackend.metrics}). */
export interface BackendMetric {
  /** The Prometheus name, `protobus_<backend>_...` (a counter's ends in `_total`). */
  readonly name: string;
  /** What it counts, for the `# HELP` line. */
  readonly help: string;
  /** A counter only grows; a gauge is a level. */
  readonly type: "counter" | "gauge";
  /** Its value now. */
  read(): number;
}
