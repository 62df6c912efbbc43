/**
 * The batching publisher behind a client's single-event `publish()`: calls
 * made at about the same time ride one long-lived `PublishStream` as
 * batches, several batches in flight, as the Pub/Sub client libraries and
 * NATS async publish do. Each call still settles on its own: with its own
 * id and sequence, or with its own error.
 *
 * What it promises:
 * - Batches are cut by count, bytes and a short linger; at most
 *   `maxInFlightBatches` wait for an answer; at most `maxBufferedEvents` /
 *   `maxBufferedBytes` are held, and `publish()` waits for room beyond that.
 * - Ids are assigned here (UUIDv7) before the first send, so that resending
 *   after a lost stream is deduplicated by the server: an event is stored
 *   once, and its call resolves with the sequence it was stored under.
 * - A batch rejected because of some of its events rejects just those calls
 *   (with the server's field violations, renumbered as if each had been
 *   published alone); its other events are sent again.
 * - Events leave in the order `publish()` was called and are resent in that
 *   order. When an event with an ordering key fails, later events with the
 *   same key are rejected until `resumePublishing(key)` (so that the key's
 *   stored order never skips an event).
 * - Transient failures (a dropped stream, a restarting server) are retried
 *   with backoff behind a circuit breaker: while it is open every waiting
 *   and new call fails at once with `UNAVAILABLE` instead of queueing.
 */
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { EventBusService, type EventBusClient, type PublishResponse, type PublishResult } from "./gen/protobus/v1/bus.pb.js";
import type { Event } from "./gen/protobus/v1/event.pb.js";
import { createCircuitBreaker, type CircuitBreaker, type CircuitBreakerOptions, type CircuitPermit } from "./circuit-breaker.js";
import { encodeEvent, encodePublishRequest, publishRequestEntrySize } from "./event-encoder.js";
import { newEventId } from "./event-id.js";
import { Code, ProtobusError } from "./protobus-error.js";
import type { ErrorDetail } from "./status-details.js";
import { retryDelayMs } from "./transport/retry-info.js";
import { TRANSIENT_CODES } from "./transient-codes.js";

/** Tuning of the batching publisher; every field has a default. */
export interface BatchingOptions {
  /** Most events in one batch (default 100). */
  readonly maxBatchEvents?: number;
  /** Most bytes (encoded) in one batch (default 1 MiB); a larger event goes alone. */
  readonly maxBatchBytes?: number;
  /**
   * How long a batch that is not full waits for more events while earlier
   * batches are in flight, in ms (default 1). With at most one batch in
   * flight a batch goes at the end of the current turn of the event loop
   * (with what that turn published), so a lightly loaded publisher adds no
   * delay; 0 never waits longer than that.
   */
  readonly lingerMs?: number;
  /** Batches sent and not yet answered, at most (default 16). */
  readonly maxInFlightBatches?: number;
  /** Events held (queued or in flight) at most; `publish()` waits beyond it (default 10,000). */
  readonly maxBufferedEvents?: number;
  /** Bytes held at most; `publish()` waits beyond it (default 64 MiB). */
  readonly maxBufferedBytes?: number;
  /** First delay before reopening a failed stream, in ms (default 50); doubles per failure. */
  readonly retryInitialDelayMs?: number;
  /** Largest delay before reopening a failed stream, in ms (default 2,000). */
  readonly retryMaxDelayMs?: number;
  /**
   * The breaker in front of the stream: consecutive failed attempts that
   * open it (default 5) and how long it stays open (default 5 s), or
   * `false` to retry forever.
   */
  readonly circuitBreaker?: false | Partial<Omit<CircuitBreakerOptions, "isFailure">>;
}

/** The defaults of {@link BatchingOptions}. */
export const BATCHING_DEFAULTS = {
  maxBatchEvents: 100,
  maxBatchBytes: 1024 * 1024,
  lingerMs: 1,
  maxInFlightBatches: 16,
  maxBufferedEvents: 10_000,
  maxBufferedBytes: 64 * 1024 * 1024,
  retryInitialDelayMs: 50,
  retryMaxDelayMs: 2_000,
} as const;


const EVENT_PATH = /^events\[(\d+)\]/;

type EntryState = "waiting" | "queued" | "inflight" | "done";

interface Entry {
  readonly seq: number;
  readonly event: Event;
  /** The envelope encoded once, when published: every attempt sends these bytes. */
  readonly encoded: Uint8Array;
  /** Its size in a request. */
  readonly bytes: number;
  readonly resolve: (result: PublishResult) => void;
  readonly reject: (error: unknown) => void;
  state: EntryState;
  /** Sent in an earlier attempt: a `duplicate` answer is this publisher's own retry. */
  attempts: number;
  /** Goes in a batch of its own (its batch failed without saying which event was bad). */
  alone: boolean;
}

interface Batch {
  readonly entries: Entry[];
  readonly permit: CircuitPermit | undefined;
}

/** Counters of a batching publisher. */
export interface BatchingStats {
  /** Events queued or in flight. */
  readonly buffered: number;
  /** Their encoded bytes. */
  readonly bufferedBytes: number;
  /** Calls waiting for room in the buffer. */
  readonly waiting: number;
  /** Batches sent and not answered. */
  readonly inFlightBatches: number;
  /** Batches sent since creation (resends included). */
  readonly batchesSent: number;
  /** Streams opened since creation. */
  readonly streamsOpened: number;
}

/**
 * Publishes single events over one `PublishStream` in batches. Created by
 * `createClient` (see {@link ClientOptions.batching}); usable on its own
 * with a generated `EventBusClient`.
 */
export class BatchingPublisher {
  readonly #client: EventBusClient;
  readonly #maxBatchEvents: number;
  readonly #maxBatchBytes: number;
  readonly #lingerMs: number;
  readonly #maxInFlight: number;
  readonly #maxBufferedEvents: number;
  readonly #maxBufferedBytes: number;
  readonly #retryInitial: number;
  readonly #retryMax: number;
  readonly #breaker: CircuitBreaker | undefined;

  // Every call not settled yet, by sequence of the call (insertion order is
  // call order, so the first key is the oldest unsettled call).
  readonly #unsettled = new Map<number, Entry>();
  // Entries to send, in call order (resends go back to the front).
  #queue: Entry[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  // Calls waiting for room, in call order.
  readonly #waiting: Entry[] = [];
  #bufferedCount = 0;
  #bufferedBytes = 0;
  readonly #inflight: Batch[] = [];
  // Ordering keys with a failed event: the failure and its call's sequence.
  readonly #pausedKeys = new Map<string, { error: ProtobusError; seq: number }>();
  readonly #flushes: Array<{ upTo: number; resolve: () => void }> = [];

  #stream: ClientDuplexStream<Buffer, PublishResponse> | undefined;
  #seq = 0;
  #flushUpTo = 0;
  #lingerTimer: { kind: "immediate"; handle: NodeJS.Immediate } | { kind: "timeout"; handle: NodeJS.Timeout } | undefined;
  #lingerDue = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;
  #batchesSent = 0;
  #streamsOpened = 0;

  constructor(client: EventBusClient, options: BatchingOptions = {}) {
    this.#client = client;
    this.#maxBatchEvents = atLeast(1, options.maxBatchEvents ?? BATCHING_DEFAULTS.maxBatchEvents, "maxBatchEvents");
    this.#maxBatchBytes = atLeast(1, options.maxBatchBytes ?? BATCHING_DEFAULTS.maxBatchBytes, "maxBatchBytes");
    this.#lingerMs = atLeast(0, options.lingerMs ?? BATCHING_DEFAULTS.lingerMs, "lingerMs");
    this.#maxInFlight = atLeast(1, options.maxInFlightBatches ?? BATCHING_DEFAULTS.maxInFlightBatches, "maxInFlightBatches");
    this.#maxBufferedEvents = atLeast(1, options.maxBufferedEvents ?? BATCHING_DEFAULTS.maxBufferedEvents, "maxBufferedEvents");
    this.#maxBufferedBytes = atLeast(1, options.maxBufferedBytes ?? BATCHING_DEFAULTS.maxBufferedBytes, "maxBufferedBytes");
    this.#retryInitial = atLeast(0, options.retryInitialDelayMs ?? BATCHING_DEFAULTS.retryInitialDelayMs, "retryInitialDelayMs");
    this.#retryMax = atLeast(this.#retryInitial, options.retryMaxDelayMs ?? BATCHING_DEFAULTS.retryMaxDelayMs, "retryMaxDelayMs");
    if (options.circuitBreaker !== false) {
      this.#breaker = createCircuitBreaker({
        name: "protobus-publish",
        failureThreshold: 5,
        resetTimeout: 5_000,
        halfOpenMax: 1,
        ...options.circuitBreaker,
        // Only failures of the connection count; a bad event is the caller's, and
        // RESOURCE_EXHAUSTED a busy server's (waited out by its RetryInfo delay).
        isFailure: (error) => error instanceof ProtobusError && TRANSIENT_CODES.has(error.code) && error.code !== Code.RESOURCE_EXHAUSTED,
      });
    }
  }

  /** The breaker in front of the stream (state, listeners), unless turned off. */
  get circuitBreaker(): CircuitBreaker | undefined {
    return this.#breaker;
  }

  /** Current counters. */
  get stats(): BatchingStats {
    return {
      buffered: this.#bufferedCount,
      bufferedBytes: this.#bufferedBytes,
      waiting: this.#waiting.length,
      inFlightBatches: this.#inflight.length,
      batchesSent: this.#batchesSent,
      streamsOpened: this.#streamsOpened,
    };
  }

  /**
   * Publishes one complete envelope (its id is filled when empty). Resolves
   * once the server stored it; waits first while the buffer is full.
   */
  publish(event: Event): Promise<PublishResult> {
    if (this.#closed) return Promise.reject(new ProtobusError(Code.CANCELLED, "the publisher is closed"));
    const paused = event.orderingKey !== "" ? this.#pausedKeys.get(event.orderingKey) : undefined;
    if (paused !== undefined) return Promise.reject(pausedError(event.orderingKey, paused.error));
    if (this.#breaker !== undefined) {
      // Fail fast while the circuit is open; HALF_OPEN lets calls queue for the trial batch.
      if (this.#breaker.state === "OPEN") {
        const rejection = this.#breaker.tryAcquire();
        if (rejection instanceof ProtobusError) return Promise.reject(rejection);
        rejection.release();
      }
    }
    if (event.id === "") event.id = newEventId();
    const encoded = encodeEvent(event);
    return new Promise<PublishResult>((resolve, reject) => {
      const entry: Entry = {
        seq: ++this.#seq,
        event,
        encoded,
        bytes: publishRequestEntrySize(encoded),
        resolve,
        reject,
        state: "waiting",
        attempts: 0,
        alone: false,
      };
      this.#unsettled.set(entry.seq, entry);
      if (this.#waiting.length === 0 && this.#hasRoom(entry)) this.#admit(entry);
      else this.#waiting.push(entry);
      this.#pump();
    });
  }

  /**
   * Sends everything published so far at once (no linger) and resolves when
   * each of those calls has settled, resolved or rejected.
   */
  flush(): Promise<void> {
    const upTo = this.#seq;
    if (this.#oldestUnsettled() > upTo) return Promise.resolve();
    this.#flushUpTo = Math.max(this.#flushUpTo, upTo);
    return new Promise<void>((resolve) => {
      this.#flushes.push({ upTo, resolve });
      this.#pump();
    });
  }

  /**
   * Lets the events of an ordering key be published again after one of them
   * failed (until then they are rejected with FAILED_PRECONDITION).
   */
  resumePublishing(orderingKey: string): void {
    this.#pausedKeys.delete(orderingKey);
  }

  /**
   * Stops taking new events, sends and settles every one already taken, then
   * closes the stream. Calls made after `close()` reject.
   */
  async close(): Promise<void> {
    if (this.#closed) return this.flush();
    this.#closed = true;
    await this.flush();
    this.#stopTimers();
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.end();
  }

  /**
   * Ends at once: rejects every unsettled call with CANCELLED (they may or
   * may not have been stored) and cancels the stream.
   */
  destroy(): void {
    this.#closed = true;
    this.#stopTimers();
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.cancel();
    const error = new ProtobusError(Code.CANCELLED, "the publisher was closed before the event was acknowledged; it may or may not be stored");
    for (const batch of this.#inflight.splice(0)) batch.permit?.release();
    for (const entry of [...this.#unsettled.values()]) this.#settle(entry, error);
  }

  #stopTimers(): void {
    this.#clearLinger();
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #clearLinger(): void {
    const timer = this.#lingerTimer;
    if (timer === undefined) return;
    this.#lingerTimer = undefined;
    if (timer.kind === "immediate") clearImmediate(timer.handle);
    else clearTimeout(timer.handle);
  }

  /** The pause that applies to an entry: an earlier call with its ordering key failed. */
  #pauseOf(entry: Entry): { error: ProtobusError; seq: number } | undefined {
    const key = entry.event.orderingKey;
    if (key === "") return undefined;
    const paused = this.#pausedKeys.get(key);
    return paused !== undefined && paused.seq < entry.seq ? paused : undefined;
  }

  #hasRoom(entry: Entry): boolean {
    // An event larger than the byte budget still goes, alone in the buffer.
    if (this.#bufferedCount === 0) return true;
    return this.#bufferedCount < this.#maxBufferedEvents && this.#bufferedBytes + entry.bytes <= this.#maxBufferedBytes;
  }

  #admit(entry: Entry): void {
    entry.state = "queued";
    this.#bufferedCount += 1;
    this.#bufferedBytes += entry.bytes;
    this.#queue.push(entry);
    this.#queuedBytes += entry.bytes;
  }

  #admitWaiting(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0] as Entry;
      if (next.state === "done") {
        this.#waiting.shift();
        continue;
      }
      if (!this.#hasRoom(next)) return;
      this.#waiting.shift();
      const paused = this.#pauseOf(next);
      if (paused !== undefined) this.#settle(next, pausedError(next.event.orderingKey, paused.error));
      else this.#admit(next);
    }
  }

  #queueLength(): number {
    return this.#queue.length - this.#queueHead;
  }

  #oldestUnsettled(): number {
    for (const seq of this.#unsettled.keys()) return seq;
    return Number.POSITIVE_INFINITY;
  }

  /** Settles a call once; frees its room and wakes waiting calls and flushes. */
  #settle(entry: Entry, outcome: PublishResult | ProtobusError): void {
    if (entry.state === "done") return;
    const wasBuffered = entry.state === "queued" || entry.state === "inflight";
    entry.state = "done";
    this.#unsettled.delete(entry.seq);
    if (wasBuffered) {
      this.#bufferedCount -= 1;
      this.#bufferedBytes -= entry.bytes;
    }
    if (outcome instanceof ProtobusError) {
      const key = entry.event.orderingKey;
      if (key !== "" && !this.#pausedKeys.has(key)) this.#pausedKeys.set(key, { error: outcome, seq: entry.seq });
      entry.reject(outcome);
    } else {
      entry.resolve(outcome);
    }
    if (this.#flushes.length > 0) {
      const oldest = this.#oldestUnsettled();
      for (let i = this.#flushes.length - 1; i >= 0; i--) {
        const flush = this.#flushes[i] as { upTo: number; resolve: () => void };
        if (flush.upTo < oldest) {
          this.#flushes.splice(i, 1);
          // After the settled calls' own continuations (tracing, the
          // client's wrapper) have run: a caller of flush() sees them done.
          setImmediate(flush.resolve);
        }
      }
    }
  }

  /** Sends what is ready, as far as the in-flight window and the breaker allow. */
  #pump(): void {
    this.#admitWaiting();
    for (;;) {
      this.#dropSettledHead();
      const queued = this.#queueLength();
      if (queued === 0) {
        this.#lingerDue = false;
        return;
      }
      if (this.#breaker !== undefined && this.#failOpenCircuit()) continue;
      if (this.#retryTimer !== undefined) return;
      if (this.#inflight.length >= this.#maxInFlight) return;
      if (this.#breaker?.state === "HALF_OPEN" && this.#inflight.length > 0) return;
      const head = this.#queue[this.#queueHead] as Entry;
      const ready = this.#lingerDue || queued >= this.#maxBatchEvents || this.#queuedBytes >= this.#maxBatchBytes || head.seq <= this.#flushUpTo;
      if (!ready) {
        // A pipeline with at most one batch in flight: send what this turn
        // of the event loop publishes, at its end (holding it until that
        // batch's answer came back added a round trip to a publisher's
        // latency at a few thousand events/s). More in flight: wait up to
        // the linger for a fuller batch.
        const soon = this.#lingerMs === 0 || this.#inflight.length <= 1;
        if (soon && this.#lingerTimer?.kind === "timeout") this.#clearLinger();
        this.#lingerTimer ??= soon
          ? { kind: "immediate", handle: setImmediate(() => this.#lingerFired()) }
          : { kind: "timeout", handle: setTimeout(() => this.#lingerFired(), this.#lingerMs) };
        return;
      }
      this.#sendBatch();
    }
  }

  #lingerFired(): void {
    this.#lingerTimer = undefined;
    this.#lingerDue = true;
    this.#pump();
  }

  #dropSettledHead(): void {
    while (this.#queueHead < this.#queue.length && (this.#queue[this.#queueHead] as Entry).state !== "queued") {
      this.#queueHead += 1;
    }
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /** While the circuit is open, rejects every queued call at once; true when it did. */
  #failOpenCircuit(): boolean {
    const breaker = this.#breaker as CircuitBreaker;
    if (breaker.state !== "OPEN") return false;
    const rejection = breaker.tryAcquire();
    if (!(rejection instanceof ProtobusError)) {
      rejection.release();
      return false;
    }
    for (const entry of this.#queue.slice(this.#queueHead)) {
      if (entry.state === "queued") this.#settle(entry, openError(rejection, entry));
    }
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    this.#admitWaiting();
    return true;
  }

  #sendBatch(): void {
    const stream = this.#stream ?? this.#openStream();
    const entries: Entry[] = [];
    let bytes = 0;
    while (this.#queueHead < this.#queue.length) {
      const entry = this.#queue[this.#queueHead] as Entry;
      if (entry.state !== "queued") {
        this.#queueHead += 1;
        continue;
      }
      if (entries.length > 0 && (entry.alone || entries.length >= this.#maxBatchEvents || bytes + entry.bytes > this.#maxBatchBytes)) break;
      this.#queueHead += 1;
      entries.push(entry);
      bytes += entry.bytes;
      if (entry.alone) break;
    }
    this.#queuedBytes -= bytes;
    if (this.#queueLength() === 0) {
      this.#lingerDue = false;
      this.#clearLinger();
    }
    if (entries.length === 0) return;
    let permit: CircuitPermit | undefined;
    if (this.#breaker !== undefined) {
      const acquired = this.#breaker.tryAcquire();
      if (acquired instanceof ProtobusError) {
        // Lost a race with another trial; put them back.
        this.#requeue([{ entries, permit: undefined }]);
        return;
      }
      permit = acquired;
    }
    for (const entry of entries) entry.state = "inflight";
    this.#inflight.push({ entries, permit });
    this.#batchesSent += 1;
    stream.write(encodePublishRequest(entries.map((e) => e.encoded)));
    for (const entry of entries) entry.attempts += 1;
  }

  #openStream(): ClientDuplexStream<Buffer, PublishResponse> {
    // The generated client's call, writing requests the publisher encoded itself.
    const stream = this.#client.makeBidiStreamRequest<Buffer, PublishResponse>(
      EventBusService.publishStream.path,
      (request) => request,
      EventBusService.publishStream.responseDeserialize,
    );
    this.#stream = stream;
    this.#streamsOpened += 1;
    stream.on("data", (response: PublishResponse) => this.#answered(stream, response));
    stream.on("error", (error: unknown) => this.#lost(stream, ProtobusError.from(error)));
    stream.on("end", () => this.#lost(stream, new ProtobusError(Code.UNAVAILABLE, "the server ended the publish stream")));
    return stream;
  }

  #answered(stream: ClientDuplexStream<Buffer, PublishResponse>, response: PublishResponse): void {
    if (stream !== this.#stream) return;
    const batch = this.#inflight.shift();
    if (batch === undefined || response.results.length !== batch.entries.length) {
      if (batch !== undefined) this.#inflight.unshift(batch);
      this.#stream = undefined;
      stream.cancel();
      this.#lost(stream, new ProtobusError(Code.INTERNAL, "the server answered a publish batch with the wrong number of results"), true);
      return;
    }
    this.#failures = 0;
    batch.permit?.success();
    batch.entries.forEach((entry, i) => {
      const result = response.results[i] as PublishResult;
      // A duplicate answer to a resend is this publisher's own earlier attempt being stored.
      this.#settle(entry, entry.attempts > 1 && result.duplicate ? { ...result, duplicate: false } : result);
    });
    this.#pump();
  }

  #lost(stream: ClientDuplexStream<Buffer, PublishResponse>, error: ProtobusError, force = false): void {
    if (stream !== this.#stream && !force) return;
    if (this.#stream === stream) this.#stream = undefined;
    const failed = this.#inflight.splice(0);
    if (failed.length === 0) {
      // An idle stream ended (a server restart, a drain): reopen on the next publish.
      this.#pump();
      return;
    }
    const [first, ...rest] = failed as [Batch, ...Batch[]];
    for (const batch of rest) batch.permit?.release();
    if (TRANSIENT_CODES.has(error.code)) {
      first.permit?.failure(error);
      this.#requeue(failed);
      this.#scheduleRetry(error);
    } else {
      // The first unanswered batch is the one the server refused.
      first.permit?.release();
      this.#refused(first, error);
      this.#requeue(failed);
    }
    this.#pump();
  }

  /** Settles the events of a refused batch that the error names; marks the batch to be split when it names none. */
  #refused(batch: Batch, error: ProtobusError): void {
    // Alone in its batch, the server's error is already the event's own.
    const named = batch.entries.length === 1 ? undefined : eventsNamed(error, batch.entries.length);
    if (named !== undefined) {
      for (const [index, own] of named) this.#settle(batch.entries[index] as Entry, own);
    } else if (batch.entries.length === 1) {
      this.#settle(batch.entries[0] as Entry, error);
    } else {
      for (const entry of batch.entries) entry.alone = true;
    }
  }

  /**
   * Puts the unsettled events of failed batches back at the front of the
   * queue, in call order; events after a failed one of their ordering key
   * fail instead, so that the key's order never skips an event.
   */
  #requeue(batches: readonly Batch[]): void {
    const back: Entry[] = [];
    let bytes = 0;
    for (const batch of batches) {
      for (const entry of batch.entries) {
        if (entry.state === "done") continue;
        const paused = this.#pauseOf(entry);
        if (paused !== undefined) {
          this.#settle(entry, pausedError(entry.event.orderingKey, paused.error));
          continue;
        }
        entry.state = "queued";
        back.push(entry);
        bytes += entry.bytes;
      }
    }
    // Queued events of paused keys fail too.
    if (this.#pausedKeys.size > 0) {
      for (let i = this.#queueHead; i < this.#queue.length; i++) {
        const entry = this.#queue[i] as Entry;
        const paused = entry.state === "queued" ? this.#pauseOf(entry) : undefined;
        if (paused !== undefined) {
          this.#queuedBytes -= entry.bytes;
          this.#settle(entry, pausedError(entry.event.orderingKey, paused.error));
        }
      }
    }
    if (back.length === 0) return;
    this.#queue = [...back, ...this.#queue.slice(this.#queueHead)];
    this.#queueHead = 0;
    this.#queuedBytes += bytes;
    // Resends go at once, as the batches they were in did.
    this.#lingerDue = true;
  }

  #scheduleRetry(error: ProtobusError): void {
    this.#failures += 1;
    const hinted = retryDelayMs(error.details);
    const backoff = Math.min(this.#retryMax, this.#retryInitial * 2 ** Math.min(this.#failures - 1, 20));
    const delay = Math.max(hinted ?? 0, backoff * (0.8 + Math.random() * 0.4));
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, delay);
  }
}

/** The per-event errors of a refusal that names events by index, renumbered to `events[0]`; undefined when it names none. */
function eventsNamed(error: ProtobusError, count: number): Map<number, ProtobusError> | undefined {
  const byIndex = new Map<number, ErrorDetail[]>();
  const indexOf = (path: string): number | undefined => {
    const match = EVENT_PATH.exec(path);
    const index = match === null ? undefined : Number(match[1]);
    return index !== undefined && index < count ? index : undefined;
  };
  const renumber = (path: string): string => path.replace(EVENT_PATH, "events[0]");
  // Files a single-violation detail under the event its path names; false when the path names none.
  const file = (path: string, detail: ErrorDetail): boolean => {
    const index = indexOf(path);
    if (index === undefined) return false;
    const list = byIndex.get(index) ?? [];
    list.push(detail);
    byIndex.set(index, list);
    return true;
  };
  for (const detail of error.details) {
    if (detail.type === "BadRequest") {
      for (const violation of detail.value.fieldViolations) {
        const renumbered = { ...violation, field: renumber(violation.field) };
        if (!file(violation.field, { type: "BadRequest", value: { fieldViolations: [renumbered] } })) return undefined;
      }
    } else if (detail.type === "PreconditionFailure") {
      for (const violation of detail.value.violations) {
        const renumbered = { ...violation, subject: renumber(violation.subject) };
        if (!file(violation.subject, { type: "PreconditionFailure", value: { violations: [renumbered] } })) return undefined;
      }
    }
  }
  if (byIndex.size === 0) return undefined;
  const out = new Map<number, ProtobusError>();
  for (const [index, details] of byIndex) {
    out.set(index, new ProtobusError(error.code, ownMessage(details), merge(details), { cause: error }));
  }
  return out;
}

/** One BadRequest and one PreconditionFailure detail out of many single-violation ones. */
function merge(details: readonly ErrorDetail[]): ErrorDetail[] {
  const fieldViolations = details.flatMap((d) => (d.type === "BadRequest" ? d.value.fieldViolations : []));
  const violations = details.flatMap((d) => (d.type === "PreconditionFailure" ? d.value.violations : []));
  const out: ErrorDetail[] = [];
  if (fieldViolations.length > 0) out.push({ type: "BadRequest", value: { fieldViolations } });
  if (violations.length > 0) out.push({ type: "PreconditionFailure", value: { violations } });
  return out;
}

function ownMessage(details: readonly ErrorDetail[]): string {
  const parts = details.flatMap((d) =>
    d.type === "BadRequest"
      ? d.value.fieldViolations.map((v) => `${v.field}: ${v.description}`)
      : d.type === "PreconditionFailure"
        ? d.value.violations.map((v) => `${v.subject}: ${v.description}`)
        : [],
  );
  if (parts.length === 1) return parts[0] as string;
  // The wording the server uses for a batch of one.
  const fieldsOnly = details.every((d) => d.type === "BadRequest");
  return `${parts.length} ${fieldsOnly ? "invalid fields" : "violations"}: ${parts.join("; ")}`;
}

function pausedError(key: string, cause: ProtobusError): ProtobusError {
  return new ProtobusError(
    Code.FAILED_PRECONDITION,
    `ordering key '${key}' is paused: an earlier event with this key failed (${cause.message}); call resumePublishing('${key}') to publish with it again`,
    [{ type: "ErrorInfo", value: { reason: "ORDERING_KEY_PAUSED", domain: "protobus.dev", metadata: { orderingKey: key } } }],
    { cause },
  );
}

function openError(rejection: ProtobusError, entry: Entry): ProtobusError {
  if (entry.attempts === 0) return rejection;
  return new ProtobusError(
    rejection.code,
    `${rejection.rawMessage}; event ${entry.event.id} was sent before and may have been stored: publishing it again with the same id is deduplicated`,
    rejection.details,
    { cause: rejection },
  );
}

function atLeast(min: number, value: number, what: string): number {
  if (!Number.isFinite(value) || value < min) throw new RangeError(`${what} must be a number >= ${min}, got ${value}`);
  return value;
}
