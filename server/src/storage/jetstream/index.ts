/**
 * The JetStream backend, the distributed engine: events live in one
 * JetStream stream of a NATS cluster, so any number of protobus servers can
 * front the same events. Sequences are stream sequences, publish times are
 * stream timestamps, deduplication is JetStream's (`Nats-Msg-Id` within the
 * stream's duplicate window). See the README section "JetStream backend"
 * for the whole mapping and for where it differs from the sqlite backend.
 */
import { randomUUID } from "node:crypto";
import type { Event } from "@protobus/sdk/proto";
import { Code, ProtobusError } from "@protobus/sdk";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers, nanos, type NatsConnection } from "@nats-io/transport-node";
import { MemoryBudget } from "../memory-budget.js";
import { DEFAULT_GROUP_READ_AHEAD_BYTES } from "../groups/group-memory.js";
import { Listeners } from "../listeners.js";
import type * as backend from "../backend.js";
import { matchesHistoryQuery } from "../history-filter.js";
import type { StoredEvent } from "../stored-event.js";
import type { EventSource } from "../groups/event-source.js";
import type { PatternMatcher } from "@protobus/sdk/internal";
import { connectNats, type NatsConnectionOptions } from "./connection.js";
import { EXPIRE_HEADER, ORIGIN_HEADER, encodeBody, storedEventFrom } from "./event-codec.js";
import { jetstreamError } from "./errors.js";
import { openBucket } from "./kv-util.js";
import { LiveTail } from "./live-tail.js";
import { PipelinedPublisher, type PublishAck } from "./pipelined-publisher.js";
import { JetStreamSchemaStore } from "./schema-store.js";
import { addReadConsumer, scanStream } from "./stream-scan.js";
import { JetStreamGroupStore } from "./group-store.js";
import { NatsGroupCoordinator } from "./nats-group-coordinator.js";
import { SubjectMap } from "./subjects.js";
import { FailureLog } from "../failure-log.js";

export type { NatsConnectionOptions } from "./connection.js";

/** Options of {@link createJetStreamBackend}. */
export interface JetStreamBackendOptions extends NatsConnectionOptions {
  /** Name of the event stream; created when missing. Default `PROTOBUS`. */
  readonly stream?: string;
  /** First token of every subject protobus uses. Default `protobus`. */
  readonly subjectPrefix?: string;
  /** Replicas of the stream (and of the buckets) when this backend creates them: 1, 3 or 5. Default 1. */
  readonly replicas?: number;
  /**
   * The stream's duplicate window in ms: a repeated event id within it is a
   * duplicate. Set it to the server's dedupe window. Default 120000.
   */
  readonly duplicateWindowMs?: number;
  /** Drop events older than this many ms; 0 (default) keeps them forever. */
  readonly maxAgeMs?: number;
  /** How many of the newest events each server keeps in memory for live readers. Default 16384. */
  readonly recentCacheSize?: number;
  /** How long a publish waits for the stream's acknowledgement, in ms. Default 5000. */
  readonly publishTimeoutMs?: number;
  /**
   * How long a server's claim on running a consumer group lasts without
   * renewal, in ms: after a server dies, another takes its groups over
   * within this time. Default 5000.
   */
  readonly groupLeaseMs?: number;
  /** Most undelivered events a consumer group holds in memory. Default 10000. */
  readonly groupLookahead?: number;
  /** Most bytes a consumer group run here reads ahead. Default {@link DEFAULT_GROUP_READ_AHEAD_BYTES}. */
  readonly groupReadAheadBytes?: number;
  /** The server's memory budget; one of the backend's own when absent. */
  readonly memoryBudget?: MemoryBudget;
}

const DEFAULTS = {
  stream: "PROTOBUS",
  subjectPrefix: "protobus",
  replicas: 1,
  duplicateWindowMs: 120_000,
  maxAgeMs: 0,
  recentCacheSize: 16_384,
  publishTimeoutMs: 5000,
  groupLeaseMs: 5000,
  groupLookahead: 10_000,
} as const;

/** How long creating a read consumer may take before it is tried again (a live node answers in milliseconds). */
const READ_CONSUMER_TIMEOUT_MS = 1500;

/** How long a live read waits for the tail to catch up before reading the stream itself. */
const TAIL_WAIT_MS = 2000;

class JetStreamBackend implements backend.StorageBackend, EventSource {
  readonly info: backend.BackendInfo;
  readonly groups: JetStreamGroupStore;
  readonly schemas: JetStreamSchemaStore;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  /** For short-lived read consumers: a short timeout, so a consumer placed on a dead node is retried soon. */
  readonly #readJsm: JetStreamManager;
  readonly #publisher: PipelinedPublisher;
  readonly #stream: string;
  readonly #subjects: SubjectMap;
  readonly #options: Required<Omit<JetStreamBackendOptions, keyof NatsConnectionOptions | "groupReadAheadBytes" | "memoryBudget">>;
  readonly #notifier = new Listeners<[headSequence: bigint]>();
  // Tells this instance's messages from other servers' in the live tail.
  readonly #origin = randomUUID();
  #knownHead = 0n;
  #tail: LiveTail | undefined;
  #closed = false;

  constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    readJsm: JetStreamManager,
    stream: StreamInfo,
    buckets: Buckets,
    options: JetStreamBackendOptions,
  ) {
    this.#nc = nc;
    this.#readJsm = readJsm;
    this.#publisher = new PipelinedPublisher(nc, options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs);
    this.schemas = new JetStreamSchemaStore(buckets.schemas);
    this.#jsm = jsm;
    this.#js = jetstream(nc, { timeout: options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs });
    this.#stream = stream.config.name;
    this.#options = {
      groupLeaseMs: options.groupLeaseMs ?? DEFAULTS.groupLeaseMs,
      groupLookahead: options.groupLookahead ?? DEFAULTS.groupLookahead,
      stream: this.#stream,
      subjectPrefix: options.subjectPrefix ?? DEFAULTS.subjectPrefix,
      replicas: options.replicas ?? DEFAULTS.replicas,
      duplicateWindowMs: options.duplicateWindowMs ?? DEFAULTS.duplicateWindowMs,
      maxAgeMs: options.maxAgeMs ?? DEFAULTS.maxAgeMs,
      recentCacheSize: options.recentCacheSize ?? DEFAULTS.recentCacheSize,
      publishTimeoutMs: options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
    };
    this.#subjects = new SubjectMap(this.#options.subjectPrefix);
    this.#knownHead = BigInt(stream.state.last_seq);
    this.info = { kind: "jetstream", durable: true, location: `${options.servers.join(",")} stream ${this.#stream}` };
    this.groups = new JetStreamGroupStore(
      {
        kv: buckets.groups,
        js: this.#js,
        jsm,
        readJsm,
        dlqStream: buckets.deadLetters,
        prefix: this.#options.subjectPrefix,
        failures: new FailureLog(options.logger, "the jetstream store could not write a consumer group's state", "retried until it is written (confirmed acks wait for it)"),
      },
      {
        coordinator: new NatsGroupCoordinator({
          nc,
          kv: buckets.groups,
          prefix: this.#options.subjectPrefix,
          serverId: this.#origin,
          leaseTtlMs: this.#options.groupLeaseMs,
          requestTimeoutMs: this.#options.publishTimeoutMs,
        }),
        source: this,
        lookahead: this.#options.groupLookahead,
        readAheadBytes: options.groupReadAheadBytes ?? DEFAULT_GROUP_READ_AHEAD_BYTES,
        budget: options.memoryBudget ?? new MemoryBudget(),
        leaseTtlMs: this.#options.groupLeaseMs,
        requestTimeoutMs: this.#options.publishTimeoutMs,
      },
    );
  }

  /** The events with these sequences (for the group engine), in sequence order; missing ones left out. */
  async readSequences(sequences: readonly number[]): Promise<StoredEvent[]> {
    this.#checkOpen();
    const out: StoredEvent[] = [];
    const CONCURRENCY = 64;
    try {
      for (let i = 0; i < sequences.length; i += CONCURRENCY) {
        const found = await Promise.all(
          sequences.slice(i, i + CONCURRENCY).map((seq) => this.#jsm.streams.getMessage(this.#stream, { seq }).catch(() => null)),
        );
        for (const message of found) {
          if (message === null) continue;
          const timestampNanos = BigInt(message.time.getTime()) * 1_000_000n;
          out.push(storedEventFrom(message.seq, this.#subjects.typeOf(message.subject), message.data, timestampNanos, message.header));
        }
      }
    } catch (error) {
      throw jetstreamError("read events", error);
    }
    return out.sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
  }

  /** How many events after a sequence match (for group backlogs). */
  async countAfter(afterSequence: number, matcher: PatternMatcher): Promise<number> {
    this.#checkOpen();
    const filter = this.#subjects.filterFor(matcher);
    try {
      if (filter.exact) {
        const info = await addReadConsumer(this.#readJsm, this.#stream, {
          ack_policy: AckPolicy.None,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: afterSequence + 1,
          filter_subject: filter.subject,
          mem_storage: true,
          num_replicas: 1,
          inactive_threshold: nanos(10_000),
        });
        this.#jsm.consumers.delete(this.#stream, info.name).catch(() => undefined);
        return info.num_pending;
      }
      let count = 0;
      await scanStream(this.#readJsm, this.#js, this.#stream, {
        fromSequence: BigInt(afterSequence + 1),
        filterSubject: filter.subject,
        maxMessages: Number.MAX_SAFE_INTEGER,
        visit: (message) => {
          if (matcher.matches(this.#subjects.typeOf(message.subject))) count += 1;
          return true;
        },
      });
      return count;
    } catch (error) {
      throw jetstreamError("count events", error);
    }
  }

  async append(events: readonly Event[], options: backend.AppendOptions): Promise<backend.AppendResult[]> {
    this.#checkOpen();
    const dedupe = options.dedupeWindowMs > 0;
    // Index of the first event of the batch with the same id, for repeats.
    const firstOfId = new Map<string, number>();
    const repeatOf: number[] = new Array<number>(events.length).fill(-1);
    const acks: (Promise<PublishAck> | undefined)[] = new Array<Promise<PublishAck> | undefined>(events.length);
    // Fire every publish of the batch, then wait for all acknowledgements:
    // the stream stores them in order while the acks are in flight.
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as Event;
      if (dedupe) {
        const first = firstOfId.get(event.id);
        if (first !== undefined) {
          repeatOf[i] = first;
          continue;
        }
        firstOfId.set(event.id, i);
      }
      const h = headers();
      h.set(ORIGIN_HEADER, this.#origin);
      if (event.expireTime !== undefined) h.set(EXPIRE_HEADER, String(event.expireTime.getTime()));
      acks[i] = this.#publisher.publish(this.#subjects.eventSubject(event.id, event.type), encodeBody(event), {
        headers: h,
        ...(dedupe ? { msgId: event.id } : {}),
      });
    }
    const settled = await Promise.allSettled(acks.filter((ack) => ack !== undefined));
    const failed = settled.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) throw jetstreamError("publish", failed.reason);
    const results: backend.AppendResult[] = new Array<backend.AppendResult>(events.length);
    let head = 0n;
    let k = 0;
    for (let i = 0; i < events.length; i++) {
      const id = (events[i] as Event).id;
      if (repeatOf[i] !== -1) continue;
      const ack = (settled[k++] as PromiseFulfilledResult<PublishAck>).value;
      const sequence = BigInt(ack.seq);
      results[i] = { id, sequence, duplicate: ack.duplicate };
      if (!ack.duplicate && sequence > head) head = sequence;
    }
    for (let i = 0; i < events.length; i++) {
      const first = repeatOf[i] as number;
      if (first !== -1) results[i] = { id: (events[i] as Event).id, sequence: (results[first] as backend.AppendResult).sequence, duplicate: true };
    }
    if (head > 0n) {
      if (head > this.#knownHead) this.#knownHead = head;
      this.#notifier.notify(head);
    }
    return results;
  }

  async read(request: backend.ReadRequest): Promise<backend.ReadResult> {
    this.#checkOpen();
    const target = request.afterSequence + 1n;
    const scanLimit = Math.max(request.limit * 16, 4096);
    const tail = this.#tail;
    if (tail !== undefined && target >= tail.firstCached) {
      if (tail.position < target) {
        // Nothing known past the cursor: the next append wakes the reader.
        if (this.#knownHead < target) return { events: [], scannedTo: request.afterSequence };
        await tail.waitFor(target, TAIL_WAIT_MS);
      }
      if (tail.position >= target && target >= tail.firstCached) {
        return tail.read(request.afterSequence, request.limit, request.matcher, scanLimit);
      }
    }
    return this.#readStream(request, scanLimit);
  }

  async #readStream(request: backend.ReadRequest, scanLimit: number): Promise<backend.ReadResult> {
    const filter = this.#subjects.filterFor(request.matcher);
    const headBefore = this.#knownHead;
    const events: StoredEvent[] = [];
    try {
      const scan = await scanStream(this.#readJsm, this.#js, this.#stream, {
        fromSequence: request.afterSequence + 1n,
        filterSubject: filter.subject,
        maxMessages: filter.exact ? request.limit : scanLimit,
        visit: (message) => {
          const stored = this.#decode(message);
          if (filter.exact || request.matcher === undefined || request.matcher.matches(stored.type)) events.push(stored);
          return events.length < request.limit;
        },
      });
      let scannedTo = scan.lastSequence;
      // Exhausted: every matching event up to the head seen before the scan has been looked at.
      if (scan.exhausted && headBefore > scannedTo) scannedTo = headBefore;
      if (scannedTo < request.afterSequence) scannedTo = request.afterSequence;
      return { events, scannedTo };
    } catch (error) {
      throw jetstreamError("read", error);
    }
  }

  async query(query: backend.HistoryQuery): Promise<backend.HistoryPage> {
    this.#checkOpen();
    const filter = this.#subjects.filterFor(query.matcher);
    let from = query.fromSequence < 1n ? 1n : query.fromSequence;
    if (query.fromTime !== undefined) {
      const atTime = await this.sequenceAtTime(query.fromTime);
      if (atTime > from) from = atTime;
    }
    const out: StoredEvent[] = [];
    if (query.limit <= 0) return { events: out, scannedTo: from - 1n, complete: true };
    try {
      // The stream filters by subject on the NATS server; this process
      // decodes and checks at most scanLimit of the messages it hands over.
      const scanned = await scanStream(this.#readJsm, this.#js, this.#stream, {
        fromSequence: from,
        filterSubject: filter.subject,
        maxMessages: query.scanLimit ?? Number.MAX_SAFE_INTEGER,
        visit: (message) => {
          const stored = this.#decode(message);
          if (matchesHistoryQuery(stored, query)) out.push(stored);
          return out.length < query.limit;
        },
      });
      return { events: out, scannedTo: scanned.lastSequence, complete: scanned.exhausted || out.length >= query.limit };
    } catch (error) {
      throw jetstreamError("query", error);
    }
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    this.#checkOpen();
    try {
      // Read from the stream leader (not a direct get from any replica), so
      // an event is found as soon as its publish was acknowledged.
      const message = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: this.#subjects.idFilter(id) });
      if (message === null) return undefined;
      const timestampNanos = BigInt(message.time.getTime()) * 1_000_000n;
      return storedEventFrom(message.seq, this.#subjects.typeOf(message.subject), message.data, timestampNanos, message.header);
    } catch (error) {
      throw jetstreamError("get event", error);
    }
  }

  async headSequence(): Promise<bigint> {
    this.#checkOpen();
    try {
      const info = await this.#jsm.streams.info(this.#stream);
      const head = BigInt(info.state.last_seq);
      if (head > this.#knownHead) this.#knownHead = head;
      return head;
    } catch (error) {
      throw jetstreamError("stream info", error);
    }
  }

  async sequenceAtTime(time: Date): Promise<bigint> {
    this.#checkOpen();
    try {
      // A consumer starting at a time positions itself on the first message
      // at or after it (or past the last one); its "delivered" sequence is
      // the one before.
      const info = await addReadConsumer(this.#readJsm, this.#stream, {
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: time.toISOString(),
        filter_subject: this.#subjects.all,
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: nanos(10_000),
      });
      this.#jsm.consumers.delete(this.#stream, info.name).catch(() => undefined);
      return BigInt(info.delivered.stream_seq) + 1n;
    } catch (error) {
      throw jetstreamError("find sequence by time", error);
    }
  }

  onAppend(listener: backend.AppendListener): () => void {
    this.#checkOpen();
    this.#startTail();
    return this.#notifier.add(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Groups run here write their state and release their leases first.
    await this.groups.close().catch(() => undefined);
    this.#tail?.stop();
    this.#publisher.close();
    this.#notifier.clear();
    this.schemas.close();
    await this.#nc.drain().catch(() => this.#nc.close());
  }

  /** Starts following the stream, once: appends other servers make are reported from then on. */
  #startTail(): void {
    if (this.#tail !== undefined) return;
    const tail = new LiveTail({
      js: this.#js,
      stream: this.#stream,
      filterSubject: this.#subjects.all,
      // Every append up to the known head happened before any listener was added.
      startSequence: this.#knownHead + 1n,
      capacity: this.#options.recentCacheSize,
      decode: (message) => this.#decode(message),
      isForeign: (message) => message.headers?.get(ORIGIN_HEADER) !== this.#origin,
      onForeignAppend: (head) => {
        if (head > this.#knownHead) this.#knownHead = head;
        this.#notifier.notify(head);
      },
      onError: () => {
        // Reads fall back to the stream; a new tail starts with the next listener.
        if (this.#tail === tail) this.#tail = undefined;
      },
    });
    this.#tail = tail;
    tail.start().catch(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
  }

  #decode(message: JsMsg): StoredEvent {
    return storedEventFrom(message.seq, this.#subjects.typeOf(message.subject), message.data, message.timestampNanos, message.headers);
  }

  #checkOpen(): void {
    if (this.#closed) throw new ProtobusError(Code.UNAVAILABLE, "the jetstream store is closed");
  }
}

/** The KV buckets next to the event stream. */
interface Buckets {
  /** Schema versions and compatibility modes: `<stream>_SCHEMAS`. */
  readonly schemas: KV;
  /** Consumer-group definitions, state and leases: `<stream>_GROUPS`. */
  readonly groups: KV;
  /** The name of the dead-letter stream, `<stream>_DLQ`. */
  readonly deadLetters: string;
}

/** The stream configuration this backend creates. */
function streamConfig(name: string, subjects: SubjectMap, options: JetStreamBackendOptions): Partial<StreamConfig> & { name: string } {
  const duplicateWindowMs = options.duplicateWindowMs ?? DEFAULTS.duplicateWindowMs;
  const maxAgeMs = options.maxAgeMs ?? DEFAULTS.maxAgeMs;
  return {
    name,
    subjects: [subjects.all],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: options.replicas ?? DEFAULTS.replicas,
    // JetStream wants a window > 0 and no longer than max_age.
    duplicate_window: nanos(Math.max(1, maxAgeMs > 0 ? Math.min(duplicateWindowMs, maxAgeMs) : duplicateWindowMs)),
    max_age: nanos(maxAgeMs),
    allow_direct: true,
  };
}

/** Finds or creates the event stream, tolerating another server creating it at the same time. */
async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<StreamInfo> {
  const find = async (): Promise<StreamInfo | undefined> => {
    try {
      return await jsm.streams.info(config.name);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return undefined;
      throw error;
    }
  };
  let info = await find();
  if (info === undefined) {
    try {
      info = await jsm.streams.add(config);
    } catch (error) {
      info = await find();
      if (info === undefined) throw error;
    }
  }
  const subject = (config.subjects ?? [])[0] as string;
  if (!info.config.subjects?.includes(subject)) {
    throw new ProtobusError(
      Code.FAILED_PRECONDITION,
      `stream ${config.name} exists but does not hold ${subject} (it holds ${info.config.subjects?.join(", ") ?? "nothing"}); choose another stream name or subject prefix`,
    );
  }
  // The dedupe window and the retention follow the configuration of the server that starts last.
  const maxAge = config.max_age ?? info.config.max_age;
  if (info.config.duplicate_window !== config.duplicate_window || info.config.max_age !== maxAge) {
    info = await jsm.streams.update(config.name, { ...info.config, duplicate_window: config.duplicate_window as number, max_age: maxAge });
  }
  return info;
}

/**
 * Connects to NATS and opens (creating when missing) the event stream.
 * Fails with UNAVAILABLE when the cluster cannot be reached and
 * FAILED_PRECONDITION when JetStream is off or the stream holds other subjects.
 */
export async function createJetStreamBackend(options: JetStreamBackendOptions): Promise<backend.StorageBackend> {
  const nc = await connectNats(options);
  try {
    const jsm = await jetstreamManager(nc, { timeout: options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs });
    const subjects = new SubjectMap(options.subjectPrefix ?? DEFAULTS.subjectPrefix);
    const stream = await ensureStream(jsm, streamConfig(options.stream ?? DEFAULTS.stream, subjects, options));
    const bucketOptions = { replicas: options.replicas ?? DEFAULTS.replicas, history: 1 };
    const deadLetters = `${stream.config.name}_DLQ`;
    await ensureStream(jsm, {
      name: deadLetters,
      subjects: [`${subjects.prefix}.dlq.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      // One message per group and event: dead-lettering an event again replaces it.
      max_msgs_per_subject: 1,
      num_replicas: options.replicas ?? DEFAULTS.replicas,
      duplicate_window: nanos(DEFAULTS.duplicateWindowMs),
    });
    const buckets: Buckets = {
      schemas: await openBucket(nc, `${stream.config.name}_SCHEMAS`, bucketOptions),
      groups: await openBucket(nc, `${stream.config.name}_GROUPS`, bucketOptions),
      deadLetters,
    };
    const readJsm = await jetstreamManager(nc, { timeout: READ_CONSUMER_TIMEOUT_MS, checkAPI: false });
    return new JetStreamBackend(nc, jsm, readJsm, stream, buckets, options);
  } catch (error) {
    await nc.close();
    throw jetstreamError("open", error);
  }
}
