/**
 * Which protobus server runs a consumer group: a lease in the groups KV
 * bucket (`lease.<group>`) naming the owner, the subject it answers group
 * requests on, and when the lease runs out. The owner renews it with
 * revision-checked updates; another server takes it over only once it has
 * run out (the owner died) or was released (the owner shut down).
 */
import type { KV } from "@nats-io/kv";
import { isRevisionConflict } from "./kv-util.js";

/** Renewals per time to live: a renewal may come a few seconds late and the lease still holds. */
const RENEW_DIVISOR = 4;
/** After a failed renewal, the next attempt comes sooner. */
const RETRY_DIVISOR = 10;

/** A lease as stored. */
export interface LeaseRecord {
  /** The owning server instance. */
  readonly owner: string;
  /** The subject the owner answers group requests on. */
  readonly subject: string;
  /** When the lease runs out, in ms since the epoch (owner's clock). */
  readonly expiresAt: number;
}

/** Who holds a group now. */
export type LeaseHolder = { readonly kind: "none" } | { readonly kind: "other"; readonly lease: LeaseRecord };

/** One server's claim on one group. */
export class GroupLease {
  readonly #kv: KV;
  readonly #key: string;
  readonly #mine: Omit<LeaseRecord, "expiresAt">;
  readonly #ttlMs: number;
  #revision = 0;
  #renewal: NodeJS.Timeout | undefined;
  #onLost: (() => void) | undefined;

  constructor(kv: KV, key: string, owner: string, subject: string, ttlMs: number) {
    this.#kv = kv;
    this.#key = key;
    this.#mine = { owner, subject };
    this.#ttlMs = ttlMs;
  }

  /** Reads the lease: held by another live server, or free (absent, expired, or ours). */
  async holder(): Promise<LeaseHolder> {
    const entry = await this.#kv.get(this.#key);
    if (entry === null || entry.operation !== "PUT") return { kind: "none" };
    const lease = entry.json<LeaseRecord>();
    if (lease.owner === this.#mine.owner || lease.expiresAt <= Date.now()) return { kind: "none" };
    return { kind: "other", lease };
  }

  /**
   * Takes the lease when it is free; resolves to the other holder when it
   * is not. Once taken it is renewed every quarter of its time to live until
   * released; `onLost` runs if a renewal finds another owner.
   */
  async acquire(onLost: () => void): Promise<LeaseHolder> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await this.#kv.get(this.#key);
      const value = JSON.stringify({ ...this.#mine, expiresAt: Date.now() + this.#ttlMs });
      try {
        if (entry === null || entry.operation !== "PUT") {
          this.#revision = entry === null ? await this.#kv.create(this.#key, value) : await this.#kv.update(this.#key, value, entry.revision);
        } else {
          const lease = entry.json<LeaseRecord>();
          if (lease.owner !== this.#mine.owner && lease.expiresAt > Date.now()) return { kind: "other", lease };
          this.#revision = await this.#kv.update(this.#key, value, entry.revision);
        }
      } catch (error) {
        if (isRevisionConflict(error)) continue;
        throw error;
      }
      this.#onLost = onLost;
      this.#schedule();
      return { kind: "none" };
    }
    return this.holder();
  }

  /** Gives the lease up so another server can take the group at once. */
  async release(): Promise<void> {
    this.#stop();
    if (this.#revision === 0) return;
    const revision = this.#revision;
    this.#revision = 0;
    await this.#kv.delete(this.#key, { previousSeq: revision }).catch(() => undefined);
  }

  /** Stops renewing without touching the stored lease. */
  abandon(): void {
    this.#stop();
    this.#revision = 0;
  }

  #stop(): void {
    if (this.#renewal !== undefined) clearTimeout(this.#renewal);
    this.#renewal = undefined;
    this.#onLost = undefined;
  }

  /** Renews after a part of the time to live, so that a late timer on a busy server still renews in time. */
  #schedule(divisor = RENEW_DIVISOR): void {
    this.#renewal = setTimeout(() => void this.#renew(), Math.max(100, Math.floor(this.#ttlMs / divisor)));
    this.#renewal.unref();
  }

  async #renew(): Promise<void> {
    if (this.#revision === 0) return;
    const value = JSON.stringify({ ...this.#mine, expiresAt: Date.now() + this.#ttlMs });
    try {
      this.#revision = await this.#kv.update(this.#key, value, this.#revision);
    } catch (error) {
      if (isRevisionConflict(error)) {
        const lost = this.#onLost;
        this.abandon();
        lost?.();
        return;
      }
      // Unreachable for now: try again soon, well before the lease runs out.
      if (this.#revision !== 0) this.#schedule(RETRY_DIVISOR);
      return;
    }
    if (this.#revision !== 0) this.#schedule();
  }
}
