/**
 * One member of a consumer group on one stream. It claims deliveries from
 * the group (the store decides which: priority, ordering keys, redeliveries
 * that fell due) as long as the member's window has room, writes them
 * pre-encoded, respects the transport's backpressure, and passes acks, nacks
 * and deadline extensions to the group. When the stream ends, for whatever
 * reason (the member closed it, its connection died, the server stops), the
 * member leaves and its outstanding deliveries go back to the group.
 */
import type { GroupDelivery, GroupHandle } from "../storage/group-store.js";
import type { DeliverySink } from "./subscription.js";
import { ackedResponse } from "./subscription-responses.js";
import { BaseSubscription, type BaseSubscriptionOptions } from "./subscription-base.js";

/** Settings of one group member (its id is the member id). */
export type GroupSubscriptionOptions = BaseSubscriptionOptions;

const CLAIM_BATCH = 256;

/** A live group member. */
export class GroupSubscription extends BaseSubscription {
  readonly #group: GroupHandle;
  readonly #options: GroupSubscriptionOptions;
  #pumping = false;
  #again = false;
  #started = false;

  constructor(group: GroupHandle, sink: DeliverySink, options: GroupSubscriptionOptions) {
    super(sink, options, group.definition.name);
    this.#group = group;
    this.#options = options;
  }

  /** Deliveries outstanding now. */
  get inFlight(): number {
    return this.#group.inFlightOf(this.id);
  }

  /** Joins the group and starts delivering. */
  start(): void {
    if (this.closed || this.#started) return;
    this.#started = true;
    this.#group.join(this.id);
    this.listen(this.#group.onReady(() => this.schedule()));
    this.schedule();
  }

  /** Settles deliveries; with `confirm`, answers `acked` once that is durable. */
  ack(deliveryIds: readonly string[], confirm: boolean): void {
    this.#group.ack(deliveryIds, { confirm, onActed: this.#onAcked }).then(
      () => {
        if (confirm && !this.closed) this.sink.write(ackedResponse(deliveryIds));
      },
      (error: unknown) => this.#fail(error),
    );
  }

  /** Gives deliveries back: after `delayMs`, or the group's backoff when undefined. */
  nack(deliveryIds: readonly string[], delayMs: number | undefined, reason: string): void {
    this.#group
      .nack(deliveryIds, { ...(delayMs !== undefined ? { delayMs } : {}), ...(reason !== "" ? { reason } : {}), onActed: this.#onNacked })
      .catch((error: unknown) => this.#fail(error));
  }

  /** Moves the ack deadline of deliveries (0: the group's ack deadline from now). */
  extend(deliveryIds: readonly string[], extensionMs: number): void {
    this.#group.extend(deliveryIds, extensionMs).catch((error: unknown) => this.#fail(error));
  }

  /** Stops delivering and leaves the group; outstanding deliveries go back to it. Idempotent. */
  close(): void {
    if (!this.shutdown()) return;
    if (this.#started) this.#group.leave(this.id).catch(() => undefined);
    // An open that never joined is given back, so an unused group can be released.
    else this.#group.close().catch(() => undefined);
  }

  /** Tells the observer about a delivery the group settled. */
  readonly #onAcked = (delivery: GroupDelivery): void => {
    this.observer?.acked(delivery.stored, delivery.attempt, this.consumer);
  };

  /** Tells the observer about a delivery the group gave back. */
  readonly #onNacked = (delivery: GroupDelivery): void => {
    this.observer?.nacked(delivery.stored, delivery.attempt, this.consumer);
  };

  #fail(error: unknown): void {
    if (this.closed) return;
    this.sink.fail(error);
    this.close();
  }

  #room(): number {
    const inFlight = this.#group.inFlightOf(this.id);
    if (inFlight > 0 && this.#byteRoom() <= 0) return 0;
    return this.windowRoom(inFlight);
  }

  /** Bytes the member may still take before it acks (its unacked-bytes budget). */
  #byteRoom(): number {
    const max = this.#options.maxUnackedBytes ?? Number.POSITIVE_INFINITY;
    return max - this.#group.inFlightBytesOf(this.id);
  }

  protected schedule(): void {
    if (this.closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pump().catch((error: unknown) => this.#fail(error));
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        while (!this.closed) {
          const room = this.#room();
          if (room <= 0) break;
          const deliveries = await this.#group.claim(this.id, Math.min(room, CLAIM_BATCH), Math.max(0, this.#byteRoom()));
          if (deliveries.length === 0) break;
          if (this.closed) return;
          for (const delivery of deliveries) {
            this.spendCredit();
            this.observer?.delivered(delivery.stored, delivery.attempt, this.consumer);
          }
          // The batch is bounded by the window, so writing all of it keeps memory bounded.
          if (!this.sink.writeUniqueDeliveries(deliveries)) await this.sink.waitForDrain();
        }
      } while (this.#again && !this.closed);
    } finally {
      this.#pumping = false;
    }
  }
}
