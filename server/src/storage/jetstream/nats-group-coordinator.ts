/**
 * The group coordinator of the jetstream backend, on NATS: a group's lease
 * is the `lease.<group>` key of the groups KV bucket ({@link GroupLease}),
 * naming the owner and the subject it answers on; forwarded operations are
 * NATS requests to that subject (`<prefix>.grp.<server>.<group>`) carrying
 * the protobus.cluster.v1 messages in binary; "something may be claimable"
 * goes out as a core NATS message on `<prefix>.grpready.<group>` naming the
 * sending server.
 */
import { ForwardReply, ForwardRequest } from "@protobus/sdk/internal";
import type { KV } from "@nats-io/kv";
import { NoRespondersError, RequestError, TimeoutError, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { failureReply } from "../groups/group-forwarding-codec.js";
import { OwnerUnreachableError, type ForwardHandler, type GroupCoordinator, type LeaseOutcome, type OwnerAddress } from "../groups/group-coordinator.js";
import { GroupLease } from "./group-lease.js";
import { groupToken } from "./subjects.js";

/** Options of {@link NatsGroupCoordinator}. */
export interface NatsGroupCoordinatorOptions {
  readonly nc: NatsConnection;
  /** The groups KV bucket, which holds the leases. */
  readonly kv: KV;
  /** The backend's subject prefix. */
  readonly prefix: string;
  /** This server instance. */
  readonly serverId: string;
  /** Time to live of a group lease, in ms. */
  readonly leaseTtlMs: number;
  /** How long a forwarded operation waits for the owner, in ms. */
  readonly requestTimeoutMs: number;
}

/** The KV key of a group's lease. */
export function leaseKey(group: string): string {
  return `lease.${groupToken(group)}`;
}

function unreachable(error: unknown): boolean {
  return error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders()) || error instanceof TimeoutError;
}

/** Leases in the groups bucket, forwarding and announcements over NATS. */
export class NatsGroupCoordinator implements GroupCoordinator {
  readonly #options: NatsGroupCoordinatorOptions;

  constructor(options: NatsGroupCoordinatorOptions) {
    this.#options = options;
  }

  get serverId(): string {
    return this.#options.serverId;
  }

  async serve(group: string, handler: ForwardHandler): Promise<() => void> {
    const { nc } = this.#options;
    const subscription = nc.subscribe(this.#rpcSubject(group), {
      callback: (error, message) => {
        if (error === null) void this.#answer(message, handler);
      },
    });
    try {
      await nc.flush();
    } catch (error) {
      subscription.unsubscribe();
      throw error;
    }
    return () => subscription.unsubscribe();
  }

  async acquire(group: string, onLost: () => void): Promise<LeaseOutcome> {
    const { kv, serverId, leaseTtlMs } = this.#options;
    const lease = new GroupLease(kv, leaseKey(group), serverId, this.#rpcSubject(group), leaseTtlMs);
    const holder = await lease.acquire(onLost);
    if (holder.kind === "other") return { kind: "held", owner: holder.lease.subject };
    return { kind: "acquired", lease };
  }

  async forward(owner: OwnerAddress, request: ForwardRequest): Promise<ForwardReply> {
    const { nc, requestTimeoutMs } = this.#options;
    let reply: Msg;
    try {
      reply = await nc.request(owner, ForwardRequest.encode(request).finish(), { timeout: requestTimeoutMs });
    } catch (error) {
      if (unreachable(error)) throw new OwnerUnreachableError(owner, { cause: error });
      throw error;
    }
    return ForwardReply.decode(reply.data);
  }

  announceReady(group: string): void {
    const { nc, serverId } = this.#options;
    if (!nc.isClosed()) nc.publish(this.#readySubject(group), serverId);
  }

  onReady(group: string, listener: () => void): () => void {
    const { nc, serverId } = this.#options;
    const subscription = nc.subscribe(this.#readySubject(group), {
      callback: (error, message) => {
        if (error === null && message.string() !== serverId) listener();
      },
    });
    return () => subscription.unsubscribe();
  }

  async #answer(message: Msg, handler: ForwardHandler): Promise<void> {
    let reply: ForwardReply;
    try {
      reply = await handler(ForwardRequest.decode(message.data));
    } catch (error) {
      reply = failureReply(error);
    }
    message.respond(ForwardReply.encode(reply).finish());
  }

  #rpcSubject(group: string): string {
    return `${this.#options.prefix}.grp.${this.#options.serverId}.${groupToken(group)}`;
  }

  #readySubject(group: string): string {
    return `${this.#options.prefix}.grpready.${groupToken(group)}`;
  }
}
