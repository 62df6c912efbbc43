/**
 * What the bus hands the transport for one open subscription, whatever its
 * kind (a broadcast cursor or a consumer-group member): one interface for
 * starting, flow control, acks, nacks and deadline extensions, and the sink
 * it writes deliveries to.
 */
import type { SubscribeResponse } from "@protobus/sdk/proto";
import type { UniqueDelivery } from "./delivery-encoding.js";

/** Where the subscription writes. */
export interface DeliverySink {
  /**
   * Writes a response (a pre-encoded delivery or a message object). Returns
   * false when the transport buffer is full; the subscription then waits for
   * `waitForDrain` before writing again.
   */
  write(message: Uint8Array | SubscribeResponse): boolean;
  /**
   * Writes pre-encoded deliveries that are ready together (see
   * `writeDeliveries` in delivery-writer.ts); same return value as `write`.
   */
  writeDeliveries(encoded: readonly Uint8Array[]): boolean;
  /**
   * Writes deliveries that only this subscriber sends (a consumer group's),
   * encoded from their stored envelopes (see `writeUniqueDeliveries` in
   * delivery-writer.ts); same return value as `write`.
   */
  writeUniqueDeliveries(deliveries: readonly UniqueDelivery[]): boolean;
  /** Resolves when the transport can take more. */
  waitForDrain(): Promise<void>;
  /** Ends the stream with an error. */
  fail(error: unknown): void;
}

/** One open subscription, as the transport drives it. */
export interface Subscription {
  /** Server-assigned id (the `subscription_id` of `opened`). */
  readonly id: string;
  /** Deliveries outstanding now. */
  readonly inFlight: number;
  /** Starts delivering; call it once `opened` was written. */
  start(): void;
  /** Settles deliveries; with `confirm`, writes `acked` once the acks are durable. Unknown ids are ignored. */
  ack(deliveryIds: readonly string[], confirm: boolean): void;
  /** Gives deliveries back, for redelivery after `delayMs` (the subscription's own default when undefined). */
  nack(deliveryIds: readonly string[], delayMs: number | undefined, reason: string): void;
  /** Moves the ack deadline of deliveries (0: the default deadline from now); a no-op where there is none. */
  extend(deliveryIds: readonly string[], extensionMs: number): void;
  /** Grants more deliveries (manual credit). */
  grant(count: number): void;
  /** Stops delivering and releases everything. Idempotent; safe before `start`. */
  close(): void;
}
