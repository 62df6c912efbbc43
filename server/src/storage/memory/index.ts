/**
 * The memory backend: everything in this process, nothing kept across a
 * restart. Meant for tests and demos; the server warns loudly when it runs on
 * it.
 */
import type { Event } from "@protobus/sdk/proto";
import type { PatternMatcher } from "@protobus/sdk/internal";
import { Listeners } from "../listeners.js";
import type { GroupStore } from "../group-store.js";
import { EngineGroupStore, groupStoreOptions, type GroupMemoryOptions } from "../groups/engine-group-store.js";
import { MemoryGroupPersistence } from "../groups/memory-group-persistence.js";
import type * as backend from "../backend.js";
import { matchesHistoryQuery } from "../history-filter.js";
import { StoredEvent, encodeStoredEnvelopes, type PublishedEnvelope } from "../stored-event.js";
import { MemorySchemaStore } from "./schema-store.js";

/** Options of {@link createMemoryBackend}. */
export interface MemoryBackendOptions extends GroupMemoryOptions {
  /** Clock used for publish times; tests may pin it. */
  readonly now?: () => Date;
}

class MemoryBackend implements backend.StorageBackend {
  readonly info: backend.BackendInfo = { kind: "memory", durable: false, location: "" };
  readonly groups: GroupStore & { close(): void };
  // events[i] has sequence i + 1.
  readonly #events: StoredEvent[] = [];
  // Events by id. Server-assigned ids (see AppendOptions.assignedIds)
  // increase strictly, so those events are kept in `#assigned`, in id order,
  // and found by binary search: setting each into a map of every id was
  // three quarters of `append` in a 100-events-per-request publish stream.
  // An assigned id not above the last one (publishes completed in another
  // order than they were appended) goes to the map like any other.
  readonly #byId = new Map<string, StoredEvent>();
  readonly #assigned: StoredEvent[] = [];
  readonly #assignedIds: string[] = [];
  // publishMs[i]: event i + 1's publish time. Stored events keep their
  // envelope bytes only (as the other stores do), not the decoded event:
  // ids and times, which appends and lookups need, are kept beside them.
  readonly #publishMs: number[] = [];
  readonly #notifier = new Listeners<[headSequence: bigint]>();
  readonly #now: () => Date;
  readonly schemas: MemorySchemaStore;
  #lastPublishMs = 0;

  constructor(options: MemoryBackendOptions) {
    this.#now = options.now ?? (() => new Date());
    this.groups = new EngineGroupStore(
      {
        read: (request) => this.read(request),
        readSequences: async (sequences) =>
          sequences.flatMap((seq) => {
            const stored = this.#events[seq - 1];
            return stored === undefined ? [] : [stored];
          }),
        headSequence: () => this.headSequence(),
        countAfter: async (afterSequence: number, matcher: PatternMatcher) => {
          let count = 0;
          for (let i = afterSequence; i < this.#events.length; i++) if (matcher.matches((this.#events[i] as StoredEvent).type)) count += 1;
          return count;
        },
        onAppend: (listener) => this.onAppend(listener),
      },
      new MemoryGroupPersistence(),
      groupStoreOptions(options),
    );
    this.schemas = new MemorySchemaStore(this.#now);
  }

  async append(events: readonly Event[], options: backend.AppendOptions): Promise<backend.AppendResult[]> {
    // Publish times never go backwards along the sequence, even if the clock does.
    this.#lastPublishMs = Math.max(this.#lastPublishMs, this.#now().getTime());
    const now = new Date(this.#lastPublishMs);
    const results: backend.AppendResult[] = [];
    const accepted: Event[] = [];
    const published: (PublishedEnvelope | undefined)[] = [];
    const batchIds = new Map<string, bigint>();
    let sequence = BigInt(this.#events.length);
    for (let i = 0; i < events.length; i++) {
      const input = events[i] as Event;
      const assigned = options.assignedIds?.[i] === true;
      // A server-assigned id is new: no lookup (they are costly in a map of every id).
      // One earlier in this batch is published now, like this one.
      const previous = assigned ? undefined : (batchIds.get(input.id) ?? this.#findById(input.id)?.sequence);
      if (previous !== undefined && options.dedupeWindowMs > 0 && now.getTime() - (this.#publishedAt(previous) ?? now.getTime()) <= options.dedupeWindowMs) {
        results.push({ id: input.id, sequence: previous, duplicate: true });
        continue;
      }
      sequence += 1n;
      const event: Event = { ...input, sequence, publishTime: now };
      accepted.push(event);
      published.push(options.published?.[i]);
      if (!assigned) batchIds.set(input.id, sequence);
      results.push({ id: input.id, sequence, duplicate: false });
    }
    const envelopes = encodeStoredEnvelopes(accepted, options.published !== undefined ? published : undefined);
    let acceptedIndex = 0;
    for (let i = 0; i < events.length; i++) {
      if (results[i]?.duplicate !== false) continue;
      const event = accepted[acceptedIndex] as Event;
      // The decoded event is not kept: the grouping it names is.
      const stored = new StoredEvent(event.sequence, event.type, envelopes[acceptedIndex] as Uint8Array, event.expireTime?.getTime() ?? 0, undefined, event);
      acceptedIndex += 1;
      this.#events.push(stored);
      this.#publishMs.push(now.getTime());
      const last = this.#assignedIds[this.#assignedIds.length - 1];
      if (options.assignedIds?.[i] === true && (last === undefined || event.id > last)) {
        this.#assigned.push(stored);
        this.#assignedIds.push(event.id);
      } else this.#byId.set(event.id, stored);
    }
    if (accepted.length > 0) this.#notifier.notify(sequence);
    return results;
  }

  /** The latest stored event with this id. */
  #findById(id: string): StoredEvent | undefined {
    const indexed = this.#byId.get(id);
    const assigned = this.#findAssigned(id);
    if (indexed === undefined || assigned === undefined) return indexed ?? assigned;
    return assigned.sequence > indexed.sequence ? assigned : indexed;
  }

  #findAssigned(id: string): StoredEvent | undefined {
    const ids = this.#assignedIds;
    if (ids.length === 0 || id < (ids[0] as string) || id > (ids[ids.length - 1] as string)) return undefined;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ids[mid] as string) < id) lo = mid + 1;
      else hi = mid;
    }
    return ids[lo] === id ? this.#assigned[lo] : undefined;
  }

  /** The publish time of a stored sequence, in ms since the epoch; undefined for one not stored yet. */
  #publishedAt(sequence: bigint): number | undefined {
    return this.#publishMs[Number(sequence) - 1];
  }

  async read(request: backend.ReadRequest): Promise<backend.ReadResult> {
    const events: StoredEvent[] = [];
    const head = this.#events.length;
    let index = Number(request.afterSequence);
    // Bound the scan so that one read of a sparse pattern cannot stall the loop.
    const scanLimit = index + Math.max(request.limit * 16, 4096);
    while (index < head && index < scanLimit && events.length < request.limit) {
      const stored = this.#events[index] as StoredEvent;
      index += 1;
      if (request.matcher === undefined || request.matcher.matches(stored.type)) events.push(stored);
    }
    return { events, scannedTo: BigInt(Math.max(index, Number(request.afterSequence))) };
  }

  async query(query: backend.HistoryQuery): Promise<backend.HistoryPage> {
    const out: StoredEvent[] = [];
    const first = Math.max(0, Number(query.fromSequence) - 1);
    const end = Math.min(this.#events.length, first + (query.scanLimit ?? Infinity));
    let i = first;
    for (; i < end && out.length < query.limit; i++) {
      const stored = this.#events[i] as StoredEvent;
      if (matchesHistoryQuery(stored, query)) out.push(stored);
    }
    return { events: out, scannedTo: BigInt(i), complete: out.length >= query.limit || i >= this.#events.length };
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    return this.#findById(id);
  }

  async headSequence(): Promise<bigint> {
    return BigInt(this.#events.length);
  }

  async sequenceAtTime(time: Date): Promise<bigint> {
    // Publish times never decrease along the sequence: binary search.
    let lo = 0;
    let hi = this.#publishMs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const published = this.#publishMs[mid] as number;
      if (published < time.getTime()) lo = mid + 1;
      else hi = mid;
    }
    return BigInt(lo + 1);
  }

  onAppend(listener: backend.AppendListener): () => void {
    return this.#notifier.add(listener);
  }

  async close(): Promise<void> {
    this.groups.close();
    this.#notifier.clear();
    this.schemas.close();
  }
}

/** Creates a memory backend. */
export function createMemoryBackend(options: MemoryBackendOptions = {}): backend.StorageBackend {
  return new MemoryBackend(options);
}
