/**
 * One broadcast subscription: a cursor over the store that streams every
 * matching event from its start position on, replaying history and then
 * following live appends through the same cursor, so the switch from replay
 * to live has no gap and no duplicate. Flow control is by window: at most
 * `maxInFlight` deliveries are outstanding (neither acked nor nacked), and,
 * with manual credit, no more than the subscriber granted. The transport's
 * own backpressure is respected too, so a slow subscriber costs a bounded
 * amount of memory and never holds up another. Outstanding deliveries are
 * bounded in bytes as well (`maxUnackedBytes`, encoded envelopes, drawn
 * from the server's memory budget): a subscriber over it gets nothing new
 * until it acks, and when the server's budget is spent it waits for bytes
 * to be released elsewhere.
 */
import type { PatternMatcher } from "@protobus/sdk/internal";
import type { StorageBackend, StoredEvent } from "../storage/backend.js";
import type { EventPredicate } from "../filter/filter-expression.js";
import { encodeDelivery } from "./delivery-encoding.js";
import type { MemoryBudget } from "../storage/memory-budget.js";
import type { DeliverySink } from "./subscription.js";
import { ackedResponse } from "./subscription-responses.js";
import { BaseSubscription, type BaseSubscriptionOptions } from "./subscription-base.js";

/** Settings of one broadcast subscription. */
export interface SubscriptionOptions extends BaseSubscriptionOptions {
  /** Which event types it receives. */
  readonly matcher: PatternMatcher;
  /** Deliver events with a sequence greater than this. */
  readonly afterSequence: bigint;
  /** The store's head when the subscription opened (what `opened` reported). */
  readonly headSequence: bigint;
  /** Only events it accepts are delivered; all when absent. */
  readonly filter?: EventPredicate;
  /** The server's memory budget the outstanding bytes are drawn from; none when absent. */
  readonly budget?: MemoryBudget;
}

interface Outstanding {
  readonly stored: StoredEvent;
  readonly attempt: number;
  timer?: NodeJS.Timeout;
}

/** Bytes an outstanding delivery holds. */
function sizeOf(stored: StoredEvent): number {
  return stored.bytes.byteLength;
}

const READ_BATCH = 256;
/** Events the first read asks for, before their size is known. */
const FIRST_READ = 16;

/** A live broadcast subscription. */
export class BroadcastSubscription extends BaseSubscription {
  readonly #store: StorageBackend;
  readonly #options: SubscriptionOptions;
  readonly #outstanding = new Map<string, Outstanding>();
  readonly #redeliver: Outstanding[] = [];
  #cursor: bigint;
  #knownHead = 0n;
  /** Bytes of the deliveries outstanding or waiting for redelivery. */
  #heldBytes = 0;
  /** Events and bytes read so far, for the average event size a read asks for. */
  #readEvents = 0;
  #readBytes = 0;
  /** Removes the wait for the server's budget, while one is registered. */
  #budgetWait: (() => void) | undefined;
  #pumping = false;

  constructor(store: StorageBackend, sink: DeliverySink, options: SubscriptionOptions) {
    super(sink, options, "");
    this.#store = store;
    this.#options = options;
    this.#cursor = options.afterSequence;
  }

  /** Deliveries outstanding now. */
  get inFlight(): number {
    return this.#outstanding.size;
  }

  /** Starts streaming from the start position. */
  start(): void {
    if (this.closed) return;
    this.#knownHead = this.#options.headSequence;
    this.listen(
      this.#store.onAppend((head) => {
        if (head > this.#knownHead) this.#knownHead = head;
        // New events need room: a subscription without credit, with a full
        // window or at its byte bound is woken by the grant, ack or
        // released budget that makes room, not by every append meanwhile.
        if (this.#room(true) > 0) this.schedule();
      }),
    );
    this.schedule();
  }

  /**
   * Settles deliveries; unknown ids (already settled) are ignored. With
   * `confirm`, answers `acked` at once: a broadcast ack is held in memory only.
   */
  ack(deliveryIds: readonly string[], confirm: boolean): void {
    for (const id of deliveryIds) this.#settle(id);
    if (confirm && !this.closed) this.sink.write(ackedResponse(deliveryIds));
    this.schedule();
  }

  /**
   * Gives deliveries back: each is delivered again after `delayMs` (at once
   * when undefined: a broadcast subscription has no backoff). The reason is
   * not kept: only consumer groups record it.
   */
  nack(deliveryIds: readonly string[], delayMs: number | undefined, _reason = ""): void {
    for (const id of deliveryIds) {
      const entry = this.#outstanding.get(id);
      if (entry === undefined || entry.timer !== undefined) continue;
      this.observer?.nacked(entry.stored, entry.attempt, this.consumer);
      // The entry keeps its window slot until it is redelivered, so a nack
      // storm cannot grow memory past max_in_flight.
      entry.timer = setTimeout(() => {
        this.#outstanding.delete(id);
        this.#redeliver.push({ stored: entry.stored, attempt: entry.attempt + 1 });
        this.schedule();
      }, delayMs ?? 0);
      entry.timer.unref();
    }
  }

  /** Broadcast deliveries have no ack deadline: a no-op. */
  extend(_deliveryIds: readonly string[], _extensionMs: number): void {
    // Nothing to move.
  }

  /** Stops streaming and releases everything. Idempotent. */
  close(): void {
    if (!this.shutdown()) return;
    for (const entry of this.#outstanding.values()) if (entry.timer !== undefined) clearTimeout(entry.timer);
    this.#outstanding.clear();
    this.#redeliver.length = 0;
    this.#budgetWait?.();
    this.#options.budget?.release("unacked", this.#heldBytes);
    this.#heldBytes = 0;
  }

  #settle(id: string): void {
    const entry = this.#outstanding.get(id);
    if (entry === undefined) return;
    if (entry.timer !== undefined) {
      // Acked while waiting for its redelivery: the nack already counted.
      clearTimeout(entry.timer);
    } else {
      this.observer?.acked(entry.stored, entry.attempt, this.consumer);
    }
    this.#outstanding.delete(id);
    const bytes = sizeOf(entry.stored);
    this.#heldBytes -= bytes;
    this.#options.budget?.release("unacked", bytes);
  }

  /**
   * Takes the bytes of a new delivery: false when the subscriber is at its
   * unacked-bytes bound (it acks first), or the server's budget is spent
   * (it is woken when bytes are released).
   */
  #takeBytes(bytes: number): boolean {
    const max = this.#options.maxUnackedBytes ?? Number.POSITIVE_INFINITY;
    if (this.#heldBytes > 0 && this.#heldBytes + bytes > max) return false;
    const budget = this.#options.budget;
    if (budget !== undefined && !budget.tryTake("unacked", bytes)) {
      this.#budgetWait ??= budget.onceReleased(() => {
        this.#budgetWait = undefined;
        this.schedule();
      });
      return false;
    }
    this.#heldBytes += bytes;
    return true;
  }

  /**
   * How many more deliveries may go out now. Waiting redeliveries hold their
   * window slots, so outstanding + waiting never exceeds max_in_flight; they
   * go first, new events get what is left.
   */
  #room(includeWaiting: boolean): number {
    if (includeWaiting && this.#heldBytes >= (this.#options.maxUnackedBytes ?? Number.POSITIVE_INFINITY)) return 0;
    const used = this.#outstanding.size + (includeWaiting ? this.#redeliver.length : 0);
    return this.windowRoom(used);
  }

  protected schedule(): void {
    if (this.#pumping || this.closed) return;
    this.#pump().catch((error: unknown) => {
      this.sink.fail(error);
      this.close();
    });
  }

  /** Records a delivery as outstanding and returns its encoding. */
  #prepare(stored: StoredEvent, attempt: number): Uint8Array {
    const deliveryId = stored.deliveryId(attempt);
    this.#outstanding.set(deliveryId, { stored, attempt });
    this.spendCredit();
    this.observer?.delivered(stored, attempt, this.consumer);
    return encodeDelivery(stored, deliveryId, attempt);
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (!this.closed) {
        let writable = true;
        const now = Date.now();
        const redelivered: Uint8Array[] = [];
        while (this.#redeliver.length > 0 && this.#room(false) > 0) {
          const entry = this.#redeliver.shift() as Outstanding;
          if (entry.stored.isExpired(now)) {
            this.#heldBytes -= sizeOf(entry.stored);
            this.#options.budget?.release("unacked", sizeOf(entry.stored));
            continue;
          }
          redelivered.push(this.#prepare(entry.stored, entry.attempt));
        }
        if (redelivered.length > 0) writable = this.sink.writeDeliveries(redelivered);
        const room = this.#room(true);
        if (room <= 0) {
          if (!writable) await this.sink.waitForDrain();
          else return;
          continue;
        }
        if (writable && this.#cursor < this.#knownHead) {
          const read = await this.#readMore(room);
          if (read === undefined) return;
          writable = read;
        } else if (writable) {
          return;
        }
        if (!writable) await this.sink.waitForDrain();
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** How many events the next read asks for: the window's room, and the byte room at the average size seen. */
  #readLimit(room: number): number {
    const byteRoom = (this.#options.maxUnackedBytes ?? Number.POSITIVE_INFINITY) - this.#heldBytes;
    const average = this.#readEvents > 0 ? this.#readBytes / this.#readEvents : 0;
    const byBytes = average > 0 ? Math.ceil(byteRoom / average) : FIRST_READ;
    return Math.max(1, Math.min(room, READ_BATCH, byBytes));
  }

  /**
   * Reads and writes the next events after the cursor, as many as the
   * window and the byte bounds allow. Resolves to whether the transport
   * can take more, or undefined when there is nothing more to do until an
   * append, an ack or released budget wakes the subscription.
   */
  async #readMore(room: number): Promise<boolean | undefined> {
    const before = this.#cursor;
    const { events, scannedTo } = await this.#store.read({
      afterSequence: this.#cursor,
      limit: this.#readLimit(room),
      matcher: this.#options.matcher,
    });
    if (this.closed) return undefined;
    for (const stored of events) {
      this.#readEvents += 1;
      this.#readBytes += sizeOf(stored);
    }
    const readAt = Date.now();
    const ready: Uint8Array[] = [];
    let whole = true;
    for (const stored of events) {
      if (stored.isExpired(readAt)) {
        this.#cursor = stored.sequence;
        this.observer?.expired?.(stored, this.consumer);
        continue;
      }
      if (this.#options.filter !== undefined && !this.#options.filter(stored.event)) {
        this.#cursor = stored.sequence;
        continue;
      }
      if (!this.#takeBytes(sizeOf(stored))) {
        whole = false;
        break;
      }
      this.#cursor = stored.sequence;
      ready.push(this.#prepare(stored, 1));
    }
    // The transport may report a full buffer mid-batch; the batch is
    // bounded by the window, so writing all of it keeps memory bounded.
    const writable = ready.length === 0 || this.sink.writeDeliveries(ready);
    if (whole && scannedTo > this.#cursor) this.#cursor = scannedTo;
    // Nothing readable yet past the cursor (the next append wakes us), or over a byte bound (an ack or the budget does).
    if (this.#cursor === before || !whole) return writable ? undefined : false;
    return writable;
  }
}
