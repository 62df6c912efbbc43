/**
 * A consumer group as one protobus server on JetStream sees it. Exactly one
 * server at a time runs the group (it holds the group's lease): there the
 * shared group engine works on state kept in JetStream, and the server
 * answers other servers' requests for the group on its own subject. On any
 * other server the handle forwards every operation to that owner by NATS
 * request/reply. When the owner goes away (shut down: lease released;
 * died: lease runs out) the next server that needs the group takes it over
 * and continues from the state in JetStream.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import type { NatsConnection, Msg, Subscription } from "@nats-io/transport-node";
import { NoRespondersError, RequestError, TimeoutError } from "@nats-io/transport-node";
import type {
  AckOptions,
  DeadLetter,
  DeadLetterQuery,
  DeadLetterSelection,
  GroupDefinition,
  GroupDelivery,
  GroupHandle,
  GroupSettings,
  GroupStats,
  NackOptions,
} from "../group-store.js";
import type { EventSource } from "../groups/event-source.js";
import type { MemoryBudget } from "../memory-budget.js";
import { DEFAULT_COMMIT_ACKS, DEFAULT_COMMIT_INTERVAL_MS, GroupEngine } from "../groups/group-engine.js";
import type { StoredEvent } from "../stored-event.js";
import { GroupLease } from "./group-lease.js";
import { Listeners } from "../listeners.js";
import { JetStreamGroupState, type GroupStateLocation } from "./group-state.js";
import {
  deadLettersFromWire,
  deadLettersToWire,
  deliveriesFromWire,
  deliveriesToWire,
  errorReply,
  selectionFromWire,
  selectionToWire,
  statsFromWire,
  statsToWire,
  unwrapReply,
  type GroupReply,
  type GroupRequest,
} from "./group-wire.js";

/** What every group handle of one server shares. */
export interface GroupContext {
  readonly nc: NatsConnection;
  readonly source: EventSource;
  /** This server instance. */
  readonly serverId: string;
  /** Most undelivered events an engine holds in memory. */
  readonly lookahead: number;
  /** Most bytes an engine reads ahead. */
  readonly readAheadBytes: number;
  /** The server's memory budget, shared by read-ahead and unacked deliveries. */
  readonly budget: MemoryBudget;
  /** Time to live of a group lease, in ms. */
  readonly leaseTtlMs: number;
  /** How long a forwarded request waits for the owner, in ms. */
  readonly requestTimeoutMs: number;
}

/** The names of one group's keys and subjects. */
export interface GroupAddress {
  readonly leaseKey: string;
  /** Subject this server answers the group's requests on while it owns it. */
  readonly rpcSubject: string;
  /** Subject the owner announces "something may be claimable" on. */
  readonly readySubject: string;
  readonly state: GroupStateLocation;
}

interface Local {
  readonly kind: "local";
  readonly engine: GroupEngine;
  readonly state: JetStreamGroupState;
  readonly lease: GroupLease;
  readonly subscription: Subscription;
}

/** A delivery made through the owner to a member attached here. */
interface Forwarded {
  readonly member: string;
  readonly delivery: GroupDelivery;
}

/**
 * Tells `onActed` about the deliveries an owner says an ack or nack acted
 * on (the ids it answers), from those forwarded here; an owner that answers
 * nothing (an older server) acted on all of them.
 */
function tellActed(wire: unknown, forwarded: ReadonlyMap<string, GroupDelivery>, onActed: ((delivery: GroupDelivery) => void) | undefined): void {
  if (onActed === undefined) return;
  const ids = Array.isArray(wire) ? (wire as string[]) : [...forwarded.keys()];
  for (const id of ids) {
    const delivery = forwarded.get(id);
    if (delivery !== undefined) onActed(delivery);
  }
}

interface Remote {
  readonly kind: "remote";
  readonly subject: string;
}

const POLL_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A group on one server: run here, or forwarded to the server that runs it. */
export class JetStreamGroupHandle implements GroupHandle {
  #definition: GroupDefinition;
  readonly #context: GroupContext;
  readonly #address: GroupAddress;
  readonly #listeners = new Listeners();
  readonly #deadListeners = new Set<(stored: StoredEvent) => void>();
  /** Members attached through this server. */
  readonly #members = new Set<string>();
  /** Forwarded deliveries not yet settled, by delivery id. */
  readonly #forwarded = new Map<string, Forwarded>();
  #mode: Local | Remote | undefined;
  #deciding: Promise<Local | Remote> | undefined;
  #readySubscription: Subscription | undefined;
  #poll: NodeJS.Timeout | undefined;
  #announceScheduled = false;
  #deleted = false;
  #closed = false;

  constructor(definition: GroupDefinition, context: GroupContext, address: GroupAddress) {
    this.#definition = definition;
    this.#context = context;
    this.#address = address;
    this.#readySubscription = context.nc.subscribe(address.readySubject, {
      callback: (error, message) => {
        if (error === null && message.string() !== context.serverId) this.#listeners.notify();
      },
    });
  }

  get definition(): GroupDefinition {
    return this.#definition;
  }

  /** True once the group was deleted. */
  get deleted(): boolean {
    return this.#deleted;
  }

  /** True once this server runs the group. */
  get owned(): boolean {
    return this.#mode?.kind === "local";
  }

  /** Decides where the group runs: here when its lease is free, else at its owner. */
  async ensure(): Promise<Local | Remote> {
    this.#assertLive();
    if (this.#mode !== undefined) return this.#mode;
    this.#deciding ??= this.#decide().finally(() => {
      this.#deciding = undefined;
    });
    return this.#deciding;
  }

  /** Applies settings stored by the caller. */
  async applySettings(settings: GroupSettings): Promise<void> {
    this.#definition = { ...this.#definition, settings };
    await this.#call(
      { op: "settings", settings },
      async (local) => {
        local.engine.updateSettings(settings);
        local.state.updateSettings(this.#definition.name, settings);
      },
      () => undefined,
    );
  }

  join(memberId: string): void {
    this.#members.add(memberId);
    const mode = this.#mode;
    if (mode?.kind === "local") mode.engine.join(memberId);
    else this.#call({ op: "join", member: this.#remoteMember(memberId) }, async () => undefined, () => undefined).catch(() => undefined);
  }

  async leave(memberId: string): Promise<void> {
    this.#members.delete(memberId);
    for (const [id, forwarded] of this.#forwarded) if (forwarded.member === memberId) this.#forwarded.delete(id);
    if (this.#deleted || this.#closed) return;
    await this.#call(
      { op: "leave", member: this.#remoteMember(memberId) },
      (local) => local.engine.leave(memberId),
      () => undefined,
    );
  }

  async claim(memberId: string, max: number, maxBytes?: number): Promise<GroupDelivery[]> {
    const bounded = maxBytes !== undefined && Number.isFinite(maxBytes);
    const deliveries = await this.#call(
      { op: "claim", member: this.#remoteMember(memberId), max, ...(bounded ? { maxBytes } : {}) },
      (local) => local.engine.claim(memberId, max, maxBytes),
      deliveriesFromWire,
      // The owner cannot be reached now: nothing is claimable; try again soon.
      () => {
        setTimeout(() => this.#listeners.notify(), POLL_MS).unref();
        return [];
      },
    );
    if (this.#mode?.kind === "remote") for (const d of deliveries) this.#forwarded.set(d.deliveryId, { member: memberId, delivery: d });
    return deliveries;
  }

  inFlightOf(memberId: string): number {
    const mode = this.#mode;
    if (mode?.kind === "local") return mode.engine.inFlightOf(memberId) + this.#forwardedOf(memberId);
    return this.#forwardedOf(memberId);
  }

  inFlightBytesOf(memberId: string): number {
    const mode = this.#mode;
    const local = mode?.kind === "local" ? mode.engine.inFlightBytesOf(memberId) : 0;
    let forwarded = 0;
    for (const f of this.#forwarded.values()) if (f.member === memberId) forwarded += f.delivery.stored.bytes.byteLength;
    return local + forwarded;
  }

  async ack(deliveryIds: readonly string[], options: AckOptions = {}): Promise<void> {
    const forwarded = this.#settleForwarded(deliveryIds);
    const confirm = options.confirm ?? true;
    await this.#call(
      { op: "ack", ids: deliveryIds, confirm },
      (local) => local.engine.ack(deliveryIds, options),
      (wire) => tellActed(wire, forwarded, options.onActed),
      () => undefined,
    );
  }

  async nack(deliveryIds: readonly string[], options: NackOptions): Promise<void> {
    const forwarded = this.#settleForwarded(deliveryIds);
    const { onActed, ...wireOptions } = options;
    await this.#call(
      { op: "nack", ids: deliveryIds, ...wireOptions },
      (local) => local.engine.nack(deliveryIds, options),
      (wire) => tellActed(wire, forwarded, onActed),
      () => undefined,
    );
  }

  async extend(deliveryIds: readonly string[], extensionMs: number): Promise<void> {
    await this.#call({ op: "extend", ids: deliveryIds, extensionMs }, (local) => local.engine.extend(deliveryIds, extensionMs), () => undefined);
  }

  onReady(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  onDeadLetter(listener: (stored: StoredEvent) => void): () => void {
    this.#deadListeners.add(listener);
    return () => this.#deadListeners.delete(listener);
  }

  async close(): Promise<void> {
    // Handles are shared per group; the store shuts them down.
  }

  /** Counters and gauges, from wherever the group runs. */
  stats(): Promise<GroupStats> {
    return this.#call({ op: "stats" }, (local) => local.engine.stats(), statsFromWire);
  }

  /** Dead letters, from wherever the group runs. */
  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.#call(
      { op: "dead", after: query.afterSequence.toString(), limit: query.limit, patterns: query.patterns ?? [] },
      (local) => local.engine.listDeadLetters(query),
      deadLettersFromWire,
    );
  }

  /** Moves dead letters back into the group. */
  redrive(selection: DeadLetterSelection): Promise<number> {
    return this.#call({ op: "redrive", ...selectionToWire(selection) }, (local) => local.engine.redrive(selection), (n) => n as number);
  }

  /** Drops dead letters. */
  purge(selection: DeadLetterSelection): Promise<number> {
    return this.#call(
      { op: "purge", ...selectionToWire(selection) },
      async (local) => {
        const count = await local.engine.purge(selection);
        await local.state.flushed();
        return count;
      },
      (n) => n as number,
    );
  }

  /** The group was deleted: tell its owner, then end this handle. */
  async delete(): Promise<void> {
    const mode = this.#mode;
    if (mode?.kind === "remote") {
      await this.#request(mode.subject, { op: "deleted" }).catch(() => undefined);
    }
    this.#markDeleted();
  }

  /** Stops running or forwarding the group here; an owned group's state is written and its lease released. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#readySubscription?.unsubscribe();
    this.#stopPoll();
    await this.#deciding?.catch(() => undefined);
    const mode = this.#mode;
    this.#mode = undefined;
    if (mode?.kind === "local") await this.#stopLocal(mode, true);
  }

  #markDeleted(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    const mode = this.#mode;
    this.#mode = undefined;
    this.#readySubscription?.unsubscribe();
    this.#stopPoll();
    if (mode?.kind === "local") {
      mode.subscription.unsubscribe();
      mode.lease.abandon();
      mode.state.close();
      mode.engine.markDeleted();
    }
    this.#listeners.notify();
  }

  async #decide(): Promise<Local | Remote> {
    const lease = new GroupLease(
      this.#address.state.kv,
      this.#address.leaseKey,
      this.#context.serverId,
      this.#address.rpcSubject,
      this.#context.leaseTtlMs,
    );
    // Answer on the group's subject before the lease names it, so that
    // other servers never find the owner without a responder (requests
    // that come before the group is loaded are told to try again).
    const subscription = this.#context.nc.subscribe(this.#address.rpcSubject, {
      callback: (error, message) => {
        if (error === null) void this.#serve(message);
      },
    });
    let holder;
    try {
      await this.#context.nc.flush();
      holder = await lease.acquire(() => this.#demote());
    } catch (error) {
      subscription.unsubscribe();
      throw error;
    }
    if (holder.kind === "other") {
      subscription.unsubscribe();
      const remote: Remote = { kind: "remote", subject: holder.lease.subject };
      this.#mode = remote;
      this.#startPoll();
      for (const member of this.#members) {
        this.#request(remote.subject, { op: "join", member: this.#remoteMember(member) }).catch(() => undefined);
      }
      return remote;
    }
    let loaded: Awaited<ReturnType<typeof JetStreamGroupState.load>>;
    try {
      loaded = await JetStreamGroupState.load(this.#address.state, this.#definition, () => this.#demote());
    } catch (error) {
      subscription.unsubscribe();
      await lease.release();
      if (error instanceof ProtobusError && error.code === Code.NOT_FOUND) this.#markDeleted();
      throw error;
    }
    const engine = new GroupEngine(this.#context.source, loaded.state, loaded.persisted, {
      lookahead: this.#context.lookahead,
      readAheadBytes: this.#context.readAheadBytes,
      budget: this.#context.budget,
      now: Date.now,
      commitIntervalMs: DEFAULT_COMMIT_INTERVAL_MS,
      commitAcks: DEFAULT_COMMIT_ACKS,
    });
    engine.onReady(() => {
      this.#listeners.notify();
      this.#announce();
    });
    engine.onDeadLetter((stored) => {
      for (const listener of this.#deadListeners) listener(stored);
    });
    for (const member of this.#members) engine.join(member);
    // Deliveries forwarded from an earlier owner are its business no more.
    this.#forwarded.clear();
    const local: Local = { kind: "local", engine, state: loaded.state, lease, subscription };
    this.#stopPoll();
    this.#mode = local;
    if (this.#closed || this.#deleted) {
      this.#mode = undefined;
      await this.#stopLocal(local, true);
      this.#assertLive();
    }
    // Wake the members: their forwarded windows were just emptied and the
    // group's backlog is only read on a claim, so a member whose window was
    // full while the old owner was gone would otherwise never claim again.
    queueMicrotask(() => this.#listeners.notify());
    return local;
  }

  /** Another server took the group over: stop running it here and forward from now on. */
  #demote(): void {
    const mode = this.#mode;
    if (mode?.kind !== "local") return;
    this.#mode = undefined;
    void this.#stopLocal(mode, false);
    this.#listeners.notify();
  }

  async #stopLocal(local: Local, release: boolean): Promise<void> {
    local.subscription.unsubscribe();
    local.engine.shutdown();
    if (release) {
      await local.state.flushed().catch(() => undefined);
      local.state.close();
      await local.lease.release();
    } else {
      local.state.close();
      local.lease.abandon();
    }
  }

  /**
   * Runs an operation where the group runs. `unreachable` answers when the
   * owner cannot be reached and its lease has not run out yet; without it
   * the call waits for the lease to run out (and takes the group over).
   */
  async #call<T>(
    request: GroupRequest,
    local: (local: Local) => Promise<T>,
    decode: (wire: unknown) => T,
    unreachable?: () => T,
  ): Promise<T> {
    const deadline = Date.now() + this.#context.leaseTtlMs + this.#context.requestTimeoutMs;
    for (;;) {
      const mode = await this.ensure();
      if (mode.kind === "local") return local(mode);
      try {
        return decode(await this.#request(mode.subject, request));
      } catch (error) {
        const gone =
          error instanceof NoRespondersError ||
          (error instanceof RequestError && error.isNoResponders()) ||
          error instanceof TimeoutError ||
          isNotOwner(error);
        if (!gone) throw error;
        if (this.#mode === mode) {
          this.#mode = undefined;
          this.#stopPoll();
        }
        if (unreachable !== undefined && !isNotOwner(error)) return unreachable();
        if (Date.now() > deadline) {
          throw new ProtobusError(Code.UNAVAILABLE, `the protobus server running consumer group '${this.#definition.name}' does not answer; retry`);
        }
        await sleep(isNotOwner(error) ? 10 : 250);
      }
    }
  }

  async #request(subject: string, request: GroupRequest): Promise<unknown> {
    const reply = await this.#context.nc.request(subject, JSON.stringify(request), { timeout: this.#context.requestTimeoutMs });
    return unwrapReply(reply.json<GroupReply>());
  }

  /** Answers a request forwarded by another server. */
  async #serve(message: Msg): Promise<void> {
    let reply: GroupReply;
    try {
      reply = { ok: await this.#handle(message.json<GroupRequest>()) };
    } catch (error) {
      reply = errorReply(error);
    }
    message.respond(JSON.stringify(reply));
  }

  async #handle(request: GroupRequest): Promise<unknown> {
    const mode = this.#mode;
    if (mode?.kind !== "local") throw new ProtobusError(Code.UNAVAILABLE, NOT_OWNER);
    const engine = mode.engine;
    switch (request.op) {
      case "join":
        engine.join(request.member);
        return null;
      case "leave":
        await engine.leave(request.member);
        return null;
      case "claim":
        return deliveriesToWire(await engine.claim(request.member, request.max, request.maxBytes));
      case "ack": {
        // A server that does not send `confirm` waits for every ack.
        const acted: string[] = [];
        await engine.ack(request.ids, { confirm: request.confirm ?? true, onActed: (d) => acted.push(d.deliveryId) });
        return acted;
      }
      case "nack": {
        const acted: string[] = [];
        await engine.nack(request.ids, {
          ...(request.delayMs !== undefined ? { delayMs: request.delayMs } : {}),
          ...(request.reason !== undefined ? { reason: request.reason } : {}),
          onActed: (d) => acted.push(d.deliveryId),
        });
        return acted;
      }
      case "extend":
        await engine.extend(request.ids, request.extensionMs);
        return null;
      case "stats":
        return statsToWire(await engine.stats());
      case "dead":
        return deadLettersToWire(
          await engine.listDeadLetters({ afterSequence: BigInt(request.after), limit: request.limit, patterns: request.patterns }),
        );
      case "redrive":
        return engine.redrive(selectionFromWire(request));
      case "purge": {
        const count = await engine.purge(selectionFromWire(request));
        await mode.state.flushed();
        return count;
      }
      case "settings":
        this.#definition = { ...this.#definition, settings: request.settings };
        engine.updateSettings(request.settings);
        return null;
      case "deleted":
        this.#markDeleted();
        return null;
    }
  }

  /**
   * Forgets settled forwarded deliveries. Their members have room again:
   * they are woken, since an owner that went away announces nothing and a
   * member with a full window would otherwise wait for a takeover that only
   * its own claims bring about.
   */
  #settleForwarded(deliveryIds: readonly string[]): Map<string, GroupDelivery> {
    const freed = new Map<string, GroupDelivery>();
    for (const id of deliveryIds) {
      const forwarded = this.#forwarded.get(id);
      if (forwarded === undefined) continue;
      this.#forwarded.delete(id);
      freed.set(id, forwarded.delivery);
    }
    if (freed.size > 0) queueMicrotask(() => this.#listeners.notify());
    return freed;
  }

  #remoteMember(memberId: string): string {
    return `${this.#context.serverId}/${memberId}`;
  }

  #forwardedOf(memberId: string): number {
    let count = 0;
    for (const forwarded of this.#forwarded.values()) if (forwarded.member === memberId) count += 1;
    return count;
  }

  /** Tells members on other servers that something may be claimable (coalesced per tick). */
  #announce(): void {
    if (this.#announceScheduled) return;
    this.#announceScheduled = true;
    setImmediate(() => {
      this.#announceScheduled = false;
      if (this.#mode?.kind === "local" && !this.#context.nc.isClosed()) this.#context.nc.publish(this.#address.readySubject, this.#context.serverId);
    });
  }

  /** Announcements are core NATS (at most once): forwarding members also look again every second. */
  #startPoll(): void {
    if (this.#poll !== undefined) return;
    this.#poll = setInterval(() => {
      if (this.#members.size > 0) this.#listeners.notify();
    }, POLL_MS);
    this.#poll.unref();
  }

  #stopPoll(): void {
    if (this.#poll !== undefined) clearInterval(this.#poll);
    this.#poll = undefined;
  }

  #assertLive(): void {
    if (this.#deleted) throw new ProtobusError(Code.NOT_FOUND, `consumer group '${this.#definition.name}' was deleted`);
    if (this.#closed) throw new ProtobusError(Code.UNAVAILABLE, "the jetstream store is closed");
  }
}

const NOT_OWNER = "this protobus server no longer runs the consumer group";

function isNotOwner(error: unknown): boolean {
  return error instanceof ProtobusError && error.code === Code.UNAVAILABLE && error.rawMessage === NOT_OWNER;
}

