/**
 * The coordinator port of the consumer-group engine: what a backend shared
 * by several protobus servers supplies so that exactly one of them runs each
 * group and the others reach it. It holds a lease per group (who runs it),
 * carries forwarded operations (`ForwardRequest`/`ForwardReply` of
 * proto/protobus/cluster/v1/group_forwarding.proto) to the owner and back,
 * and spreads "something may be claimable" announcements. The engine side
 * (coordinated-group.ts, remote-group.ts) knows nothing of how; the
 * jetstream backend's is nats-group-coordinator.ts.
 */
import type { ForwardReply, ForwardRequest } from "@protobus/sdk/internal";

/** Where a group's owner answers forwarded operations; opaque outside the coordinator. */
export type OwnerAddress = string;

/** A lease this server holds, renewed until it is released or abandoned. */
export interface HeldLease {
  /** Gives the lease up so another server can take the group at once. */
  release(): Promise<void>;
  /** Stops renewing without touching the stored lease (it runs out). */
  abandon(): void;
}

/** The outcome of trying to take a group's lease. */
export type LeaseOutcome = { readonly kind: "acquired"; readonly lease: HeldLease } | { readonly kind: "held"; readonly owner: OwnerAddress };

/** Answers forwarded operations for a group run here. */
export type ForwardHandler = (request: ForwardRequest) => Promise<ForwardReply>;

/** The coordination one server does for its groups. */
export interface GroupCoordinator {
  /** This server's id: unique among the servers sharing the backend. */
  readonly serverId: string;
  /**
   * Starts answering forwarded operations for `group` with `handler`.
   * Resolves once answering is in place (so that a lease naming this server
   * never names a server that does not answer); returns how to stop.
   */
  serve(group: string, handler: ForwardHandler): Promise<() => void>;
  /**
   * Takes the group's lease when it is free (absent, run out, released, or
   * already this server's), renewing it until it is released; `onLost` runs
   * when a renewal finds another owner. Names the holder when it is not free.
   */
  acquire(group: string, onLost: () => void): Promise<LeaseOutcome>;
  /**
   * Sends one operation to the owner and resolves to its answer. Rejects
   * with {@link OwnerUnreachableError} when the owner does not answer.
   */
  forward(owner: OwnerAddress, request: ForwardRequest): Promise<ForwardReply>;
  /** Tells the members attached to other servers that `group` may have something to claim (at most once). */
  announceReady(group: string): void;
  /** Calls `listener` on other servers' announcements for `group`; returns its removal. */
  onReady(group: string, listener: () => void): () => void;
}

/** The owner of a group did not answer a forwarded operation (gone, or too slow). */
export class OwnerUnreachableError extends Error {
  constructor(owner: OwnerAddress, options?: { cause?: unknown }) {
    super(`the protobus server at ${owner} did not answer`, options);
    this.name = "OwnerUnreachableError";
  }
}
