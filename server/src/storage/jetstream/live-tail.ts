import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { PatternMatcher } from "@protobus/sdk/internal";
import type { ReadResult } from "../backend.js";
import type { StoredEvent } from "../stored-event.js";

/** What a live tail is built from. */
export interface LiveTailOptions {
  readonly js: JetStreamClient;
  readonly stream: string;
  /** The filter of every event subject. */
  readonly filterSubject: string;
  /** The first sequence to follow. */
  readonly startSequence: bigint;
  /** How many of the newest events to keep for readers. */
  readonly capacity: number;
  /** Turns a message into a stored event. */
  readonly decode: (message: JsMsg) => StoredEvent;
  /** Called for every message; returns true when it was published elsewhere. */
  readonly isForeign: (message: JsMsg) => boolean;
  /** Told the new head after messages published elsewhere arrived. */
  readonly onForeignAppend: (head: bigint) => void;
  /** Told when following fails for good. */
  readonly onError: (error: unknown) => void;
}

/**
 * Follows the stream from a sequence on, through an ordered consumer (which
 * the client recreates after reconnects and failovers), keeping the newest
 * events in a ring for live readers. It is how a protobus server learns of
 * events other servers appended, and how live subscriptions read without a
 * round trip to the cluster per read.
 */
export class LiveTail {
  readonly #options: LiveTailOptions;
  readonly #ring: (StoredEvent | undefined)[];
  readonly #waiters = new Set<{ readonly sequence: bigint; readonly wake: () => void }>();
  #position: bigint;
  #notifyScheduled = false;
  #stopped = false;
  #stop: (() => void) | undefined;

  constructor(options: LiveTailOptions) {
    this.#options = options;
    this.#ring = new Array<StoredEvent | undefined>(options.capacity);
    this.#position = options.startSequence - 1n;
  }

  /** The last sequence followed. */
  get position(): bigint {
    return this.#position;
  }

  /** The first sequence the ring can answer for. */
  get firstCached(): bigint {
    const oldest = this.#position - BigInt(this.#options.capacity) + 1n;
    return oldest > this.#options.startSequence ? oldest : this.#options.startSequence;
  }

  /** Starts following; resolves once the consumer exists. */
  async start(): Promise<void> {
    const consumer = await this.#options.js.consumers.get(this.#options.stream, {
      filter_subjects: this.#options.filterSubject,
      opt_start_seq: Number(this.#options.startSequence),
    });
    const messages = await consumer.consume({ max_messages: 1024 });
    this.#stop = () => void messages.close();
    if (this.#stopped) this.#stop();
    void (async () => {
      try {
        for await (const message of messages) this.#accept(message);
      } catch (error) {
        if (!this.#stopped) this.#options.onError(error);
      }
    })();
  }

  /** Resolves true once the tail has followed `sequence`, false after `timeoutMs`. */
  waitFor(sequence: bigint, timeoutMs: number): Promise<boolean> {
    if (this.#position >= sequence) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        sequence,
        wake: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(this.#position >= sequence);
      }, timeoutMs);
      timer.unref();
      this.#waiters.add(waiter);
    });
  }

  /**
   * Reads from the ring, like `StorageBackend.read`. The caller checks that
   * `afterSequence + 1` is at least `firstCached`.
   */
  read(afterSequence: bigint, limit: number, matcher: PatternMatcher | undefined, scanLimit: number): ReadResult {
    const events: StoredEvent[] = [];
    const capacity = BigInt(this.#options.capacity);
    let sequence = afterSequence;
    const end = this.#position;
    let scanned = 0;
    while (sequence < end && events.length < limit && scanned < scanLimit) {
      sequence += 1n;
      scanned += 1;
      const stored = this.#ring[Number(sequence % capacity)];
      // A sequence the stream no longer holds (or never delivered) is skipped.
      if (stored === undefined || stored.sequence !== sequence) continue;
      if (matcher === undefined || matcher.matches(stored.type)) events.push(stored);
    }
    return { events, scannedTo: sequence };
  }

  /** Stops following. */
  stop(): void {
    this.#stopped = true;
    this.#stop?.();
    for (const waiter of this.#waiters) waiter.wake();
  }

  #accept(message: JsMsg): void {
    const sequence = BigInt(message.seq);
    if (sequence <= this.#position) return;
    const stored = this.#options.decode(message);
    this.#ring[Number(sequence % BigInt(this.#options.capacity))] = stored;
    this.#position = sequence;
    for (const waiter of this.#waiters) if (waiter.sequence <= sequence) waiter.wake();
    if (this.#options.isForeign(message) && !this.#notifyScheduled) {
      // Coalesce a burst of messages into one notification.
      this.#notifyScheduled = true;
      setImmediate(() => {
        this.#notifyScheduled = false;
        if (!this.#stopped) this.#options.onForeignAppend(this.#position);
      });
    }
  }
}
