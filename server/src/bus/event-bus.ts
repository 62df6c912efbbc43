/**
 * The bus itself, independent of the transport: validated publish, history
 * and lookups over a `StorageBackend`. The gRPC service in
 * `transport/event-bus-service.ts` is a thin adapter over it.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import { compilePatterns } from "@protobus/sdk/internal";
import type { Context } from "@opentelemetry/api";
import type { BusInfo, Event, OpenSubscription, PublishResult, QueryEventsRequest, QueryEventsResponse } from "@protobus/sdk/proto";
import { invalidArgument, notFound, unavailable, type FieldViolation } from "../errors.js";
import type { StorageBackend } from "../storage/backend.js";
import type { GroupHandle } from "../storage/group-store.js";
import { combineObservers, type DeliveryObserver } from "../telemetry/delivery-observer.js";
import { CountedSubscription } from "./counted-subscription.js";
import { GroupAdmin } from "./group-admin.js";
import { DEFAULT_MAX_UNACKED_BYTES, openSubscription, type OpenedSubscription } from "./open-subscription.js";
import type { MemoryBudget } from "../storage/memory-budget.js";
import type { DeliverySink } from "./subscription.js";
import { DeliveryMetrics } from "./delivery-metrics.js";
import { completeEnvelope, validateEnvelope, type EnvelopeLimits } from "./envelope.js";
import { encodePageToken, sequenceViolation } from "./page-token.js";
import { patternCountViolations } from "./open-limits.js";
import { pageStart } from "./page-request.js";
import { reservedNamespaceError } from "./reserved-namespace.js";
import type { BusMetrics } from "../telemetry/metrics.js";
import { PublishTrace } from "../telemetry/publish-trace.js";
import { publishedEnvelopes } from "./published-envelopes.js";

/**
 * Told about every stored batch, after it is durable: the envelopes as
 * stored (ids filled) and their results, in the same order. Entries whose
 * result says `duplicate` were not stored again.
 */
export type AcceptedListener = (events: readonly Event[], results: readonly PublishResult[]) => void;
import { eventsNamed, preconditionsFailed, type PublishValidator } from "./publish-validator.js";
import { DEFAULT_INPUT_LIMITS, type InputLimits } from "../limits.js";

/** Settings of the bus. */
export interface EventBusOptions {
  /** Largest accepted payload in bytes. */
  readonly maxPayloadBytes: number;
  /** Most events in one publish request. */
  readonly maxBatchSize: number;
  /** Window in which a repeated event id is a duplicate, in ms; 0 turns it off. */
  readonly dedupeWindowMs: number;
  /** Version string reported by GetBusInfo. */
  readonly version: string;
  /** Where publish metrics are recorded; none when absent. */
  readonly metrics?: BusMetrics;
  /** Checks payloads against registered schemas; without it only envelopes are checked. */
  readonly validator?: PublishValidator;
  /** Stored events one QueryEvents call looks at, at most (default {@link DEFAULT_QUERY_SCAN_LIMIT}). */
  readonly queryScanLimit?: number;
  /** Limits on envelopes, patterns and filters; the defaults when absent. */
  readonly limits?: InputLimits;
  /** Distinct event types GetDeliveryStats counts on their own; the rest count as `other` (default 1000). */
  readonly maxTrackedTypes?: number;
  /** Heartbeat interval of subscriptions in ms; 0 (the default) turns them off. */
  readonly heartbeatMs?: number;
  /** Told about deliveries, acks, nacks and dead letters (metrics, flow outcomes). */
  readonly observer?: DeliveryObserver;
  /** Most bytes of unacked deliveries per subscription (default {@link DEFAULT_MAX_UNACKED_BYTES}). */
  readonly maxUnackedBytes?: number;
  /** The server's memory budget broadcast subscriptions draw their unacked bytes from; none when absent. */
  readonly memoryBudget?: MemoryBudget;
}

/** Options of {@link EventBus.publish}. */
export interface PublishOptions {
  /** The caller's trace context (from the call's metadata), parent of the publish span when the events carry none. */
  readonly traceContext?: Context;
  /**
   * The server itself publishes (flow alerts, audit records): only then may
   * events have `protobus.*` types. Never set from a request.
   */
  readonly system?: boolean;
  /**
   * `encoded[i]`: event i as its publisher encoded it (a view into the
   * request), when the transport has it. Such an event is stored as sent,
   * with the server-set fields written after it, instead of re-encoded.
   */
  readonly encoded?: readonly (Uint8Array | undefined)[];
  /**
   * Called once the batch has passed validation and been handed to the
   * store, before it is durable (not called when the publish fails
   * earlier). A caller that keeps several publishes in order may start the
   * next one then: the store keeps the order in which it was handed
   * batches, and batches handed over in one turn share a group commit.
   */
  readonly onStoring?: () => void;
}


/** Default page size of QueryEvents. */
export const DEFAULT_QUERY_LIMIT = 100;
/** Largest page size of QueryEvents. */
export const MAX_QUERY_LIMIT = 1000;
/**
 * Default of `--query-scan-limit`: stored events one QueryEvents call looks
 * at, at most. A query matching little over a long history answers a page
 * with few (or no) events and a page token, instead of scanning it all in
 * one call on the server's thread.
 */
export const DEFAULT_QUERY_SCAN_LIMIT = 20_000;

/** The transport-independent bus. */
export class EventBus {
  readonly #store: StorageBackend;
  readonly #options: EventBusOptions;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #acceptedListeners = new Set<AcceptedListener>();
  readonly #watchedGroups = new WeakSet<GroupHandle>();
  // The one observation pipeline: the per-type counters, then the caller's observer (metrics, flow outcomes).
  readonly #observer: DeliveryObserver;
  /** Delivery counters per event type, since the bus started. */
  readonly metrics: DeliveryMetrics;
  /** Consumer-group and dead-letter administration. */
  readonly admin: GroupAdmin;
  #draining = false;

  constructor(store: StorageBackend, options: EventBusOptions) {
    this.#store = store;
    this.#options = options;
    this.limits = options.limits ?? DEFAULT_INPUT_LIMITS;
    this.#envelopeLimits = { ...this.limits, maxPayloadBytes: options.maxPayloadBytes };
    this.metrics = new DeliveryMetrics(options.maxTrackedTypes);
    this.#observer = combineObservers([this.metrics, options.observer]) ?? this.metrics;
    this.admin = new GroupAdmin(store.groups, this.metrics, this.limits);
  }

  readonly #envelopeLimits: EnvelopeLimits;

  /** The limits requests to this bus are held to. */
  readonly limits: InputLimits;

  /**
   * Opens a subscription writing to `sink`: validates `open`
   * (INVALID_ARGUMENT naming every bad field), resolves its start position
   * and, for a consumer group, opens the group. UNAVAILABLE once draining.
   * The subscription delivers nothing until started.
   */
  async openSubscription(open: OpenSubscription, sink: DeliverySink): Promise<OpenedSubscription> {
    this.assertOpen();
    const opened = await openSubscription(
      {
        store: this.#store,
        heartbeatMs: this.#options.heartbeatMs ?? 0,
        observer: this.#observer,
        onGroupOpened: (group) => this.#watchGroup(group),
        limits: this.limits,
        maxUnackedBytes: this.#options.maxUnackedBytes ?? DEFAULT_MAX_UNACKED_BYTES,
        ...(this.#options.memoryBudget !== undefined ? { budget: this.#options.memoryBudget } : {}),
      },
      open,
      sink,
    );
    const gauge = this.#options.metrics;
    if (gauge === undefined) return opened;
    return { ...opened, subscription: new CountedSubscription(opened.subscription, gauge, open.group) };
  }

  /** Dead letters are decided inside a group, not by a member: hooked once per group handle, into the pipeline. */
  #watchGroup(group: GroupHandle): void {
    if (this.#watchedGroups.has(group)) return;
    this.#watchedGroups.add(group);
    const consumer = { subscriptionId: "", group: group.definition.name };
    const observer = this.#observer;
    group.onDeadLetter((stored) => observer.deadLettered(stored, 0, consumer));
  }

  /**
   * Validates a batch as a whole and stores it. Throws INVALID_ARGUMENT with
   * every violation when any event is bad, PERMISSION_DENIED when one has a
   * reserved `protobus.*` type (unless `options.system`); then nothing is
   * stored. Resolves once the store has made the events durable.
   */
  async publish(events: readonly Event[], options: PublishOptions = {}): Promise<PublishResult[]> {
    if (this.#draining) throw unavailable("the server is shutting down; publish to another server or retry");
    if (events.length === 0) {
      throw invalidArgument([{ field: "events", description: "must contain at least one event", reason: "REQUIRED" }]);
    }
    if (options.system !== true) {
      const reserved = reservedNamespaceError(events);
      if (reserved !== undefined) throw reserved;
    }
    if (events.length > this.#options.maxBatchSize) {
      throw invalidArgument([
        {
          field: "events",
          description: `must contain at most ${this.#options.maxBatchSize} events, got ${events.length}`,
          reason: "TOO_MANY",
        },
      ]);
    }
    const started = this.#options.metrics !== undefined ? performance.now() : 0;
    const spans = PublishTrace.start(events, options.traceContext);
    let results: PublishResult[] | undefined;
    try {
      results = await this.#validateAndStore(events, spans, options.encoded, options.onStoring);
      return results;
    } catch (error) {
      spans?.end(undefined, error);
      throw error;
    } finally {
      if (results !== undefined) {
        spans?.end(results);
        this.#options.metrics?.recordPublishDuration((performance.now() - started) / 1000);
      }
    }
  }

  /**
   * Registers a listener of newly stored events (the flow monitor, metrics).
   * Returns its removal. Listeners run synchronously after the store
   * answered; a throwing listener does not affect the publish.
   */
  onAccepted(listener: AcceptedListener): () => void {
    this.#acceptedListeners.add(listener);
    return () => this.#acceptedListeners.delete(listener);
  }

  async #validateAndStore(
    events: readonly Event[],
    spans: PublishTrace | undefined,
    encoded: readonly (Uint8Array | undefined)[] | undefined,
    onStoring: (() => void) | undefined,
  ): Promise<PublishResult[]> {
    const validating = spans?.step("validate");
    const violations: FieldViolation[] = [];
    for (let i = 0; i < events.length; i++) {
      const found = validateEnvelope(events[i] as Event, `events[${i}]`, this.#envelopeLimits);
      if (found.length > 0) {
        violations.push(...found);
        this.#options.metrics?.recordValidationFailure((events[i] as Event).type);
      }
    }
    if (violations.length > 0) {
      const error = invalidArgument(violations);
      spans?.endStep(validating, error);
      throw error;
    }
    const completed = events.map(completeEnvelope);
    const validator = this.#options.validator;
    if (validator !== undefined) {
      const pending = validator.validate(completed);
      const checked = pending instanceof Promise ? await pending : pending;
      let error: ProtobusError | undefined;
      if (checked.violations.length > 0) error = invalidArgument(checked.violations, { total: checked.violationCount ?? checked.violations.length });
      else if (checked.preconditions.length > 0) error = preconditionsFailed(checked);
      if (error !== undefined) {
        this.#recordFailures(completed, checked.violations.length > 0 ? (checked.invalidEvents ?? eventsNamed(checked.violations)) : undefined);
        spans?.endStep(validating, error);
        throw error;
      }
      for (let i = 0; i < completed.length; i++) (completed[i] as Event).schemaVersion = checked.schemaVersions[i] ?? 0;
    }
    spans?.endStep(validating);
    const storing = spans?.step("store");
    const assignedIds = events.map((event) => event.id === "");
    const published = publishedEnvelopes(events, encoded);
    const pending = this.#store.append(completed, {
      dedupeWindowMs: this.#options.dedupeWindowMs,
      assignedIds,
      ...(published !== undefined ? { published } : {}),
    });
    this.#inFlight.add(pending);
    onStoring?.();
    try {
      const stored = await pending;
      spans?.endStep(storing);
      stored.forEach((r, i) => {
        if (!r.duplicate) this.metrics.count((completed[i] as Event).type, "published");
      });
      const results = stored.map((r) => ({ id: r.id, sequence: r.sequence, duplicate: r.duplicate }));
      this.#notifyAccepted(completed, results);
      return results;
    } catch (error) {
      spans?.endStep(storing, error);
      throw error;
    } finally {
      this.#inFlight.delete(pending);
    }
  }

  /**
   * Counts a validation failure for each rejected event: the ones `invalid`
   * names (their indexes), or every event of the batch when it names none.
   */
  #recordFailures(events: readonly Event[], invalid: readonly number[] | undefined): void {
    const metrics = this.#options.metrics;
    if (metrics === undefined) return;
    const indexes = invalid !== undefined && invalid.length > 0 ? invalid : events.map((_, i) => i);
    for (const i of indexes) {
      const event = events[i];
      if (event !== undefined) metrics.recordValidationFailure(event.type);
    }
  }

  #notifyAccepted(completed: readonly Event[], results: readonly PublishResult[]): void {
    const metrics = this.#options.metrics;
    if (metrics !== undefined) {
      for (let i = 0; i < completed.length; i++) if (results[i]?.duplicate === false) metrics.recordPublished((completed[i] as Event).type);
    }
    for (const listener of this.#acceptedListeners) {
      try {
        listener(completed, results);
      } catch {
        // A listener's failure is its own; the events are stored.
      }
    }
  }

  /** Reads one page of history. */
  async query(request: QueryEventsRequest): Promise<QueryEventsResponse> {
    const violations: FieldViolation[] = patternCountViolations(request.patterns, "patterns", this.limits);
    if (violations.length > 0) throw invalidArgument(violations);
    const beyond = sequenceViolation(request.fromSequence, "from_sequence");
    if (beyond !== undefined) violations.push(beyond);
    for (const [field, time] of [
      ["from_time", request.fromTime],
      ["to_time", request.toTime],
    ] as const) {
      if (time !== undefined && !Number.isFinite(time.getTime())) {
        violations.push({ field, description: "is not a time this server can represent (years 0001 to 9999)", reason: "OUT_OF_RANGE" });
      }
    }
    const fromSequence = pageStart(request, MAX_QUERY_LIMIT, violations);
    if (request.fromTime !== undefined && request.toTime !== undefined && request.toTime < request.fromTime) {
      violations.push({ field: "to_time", description: "must not be before from_time", reason: "OUT_OF_RANGE" });
    }
    if (violations.length > 0) throw invalidArgument(violations);
    const limit = request.limit === 0 ? DEFAULT_QUERY_LIMIT : request.limit;
    const found = await this.#store.query({
      ...(request.patterns.length > 0 ? { matcher: compilePatterns(request.patterns) } : {}),
      ...(request.source !== "" ? { source: request.source } : {}),
      ...(request.correlationId !== "" ? { correlationId: request.correlationId } : {}),
      ...(request.tags.length > 0 ? { tags: request.tags } : {}),
      ...(request.fromTime !== undefined ? { fromTime: request.fromTime } : {}),
      ...(request.toTime !== undefined ? { toTime: request.toTime } : {}),
      fromSequence,
      limit: limit + 1,
      scanLimit: this.#options.queryScanLimit ?? DEFAULT_QUERY_SCAN_LIMIT,
    });
    const page = found.events.slice(0, limit);
    const next = found.events[limit];
    // A page cut short by the scan limit (even an empty one) names where the next call goes on.
    const nextPageToken =
      next !== undefined ? encodePageToken(next.sequence) : found.complete ? "" : encodePageToken(found.scannedTo + 1n);
    return { events: page.map((stored) => stored.event), nextPageToken };
  }

  /** The event with this id; NOT_FOUND when there is none. */
  async getEvent(id: string): Promise<Event> {
    if (id === "") throw invalidArgument([{ field: "id", description: "is required", reason: "REQUIRED" }]);
    const stored = await this.#store.getEvent(id);
    if (stored === undefined) throw notFound("event", id);
    return stored.event;
  }

  /** Describes the server and its store. */
  async info(): Promise<BusInfo> {
    return {
      version: this.#options.version,
      store: this.#store.info.kind,
      durable: this.#store.info.durable,
      headSequence: await this.#store.headSequence(),
      maxPayloadBytes: this.#options.maxPayloadBytes,
    };
  }

  /** Refuses new publishes and waits for the ones being stored. */
  async drain(): Promise<void> {
    this.#draining = true;
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Throws UNAVAILABLE once draining started. */
  assertOpen(): void {
    if (this.#draining) throw new ProtobusError(Code.UNAVAILABLE, "the server is shutting down");
  }
}
