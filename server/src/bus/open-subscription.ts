/**
 * Opening a subscription, the domain half of `Subscribe`: the `open`
 * message is validated, its start position resolved against the store, and
 * either a consumer group opened and joined or a broadcast cursor built.
 * The transport writes `opened` and starts the subscription it gets back.
 */
import { randomUUID } from "node:crypto";
import { compilePatterns, patternError } from "@protobus/sdk/internal";
import type { OpenSubscription } from "@protobus/sdk/proto";
import { invalidArgument, type FieldViolation } from "../errors.js";
import { compileFilter } from "../filter/filter-expression.js";
import { DEFAULT_INPUT_LIMITS, type InputLimits } from "../limits.js";
import { openLimitViolations } from "./open-limits.js";
import type { StorageBackend } from "../storage/backend.js";
import type { MemoryBudget } from "../storage/memory-budget.js";
import type { GroupHandle } from "../storage/group-store.js";
import type { DeliveryObserver } from "../telemetry/delivery-observer.js";
import { BroadcastSubscription } from "./broadcast-subscription.js";
import { groupSettingsFromProto, validateGroupOpen } from "./group-admin.js";
import { GroupSubscription } from "./group-subscription.js";
import type { DeliverySink, Subscription } from "./subscription.js";

/** Default of OpenSubscription.max_in_flight. */
export const DEFAULT_MAX_IN_FLIGHT = 100;
/** Ceiling of OpenSubscription.max_in_flight. */
export const MAX_MAX_IN_FLIGHT = 10_000;
/** Default of `--max-unacked-bytes`: bytes of unacked deliveries one subscription may hold. */
export const DEFAULT_MAX_UNACKED_BYTES = 16 * 2 ** 20;

/** A subscription that is open but not started, and the head it opened at. */
export interface OpenedSubscription {
  /** Start it once `opened` is written. */
  readonly subscription: Subscription;
  /** The store's head sequence when it opened. */
  readonly headSequence: bigint;
}

/** What opening a subscription needs from the bus. */
export interface SubscriptionFactoryOptions {
  /** The store. */
  readonly store: StorageBackend;
  /** Heartbeat interval of subscriptions in ms; 0 turns them off. */
  readonly heartbeatMs: number;
  /** Told about deliveries, acks, nacks and expired events: the bus's one observation pipeline. */
  readonly observer: DeliveryObserver;
  /** Called once per group handle this process opens (dead-letter hooks). */
  readonly onGroupOpened?: (group: GroupHandle) => void;
  /** Limits on patterns and filters. */
  readonly limits: InputLimits;
  /** Most bytes of unacked deliveries per subscription. */
  readonly maxUnackedBytes?: number;
  /** The server's memory budget broadcast subscriptions draw from. */
  readonly budget?: MemoryBudget;
}

/** Every violation of an `open` message under `limits`. */
export function validateOpen(open: OpenSubscription, limits: InputLimits = DEFAULT_INPUT_LIMITS): FieldViolation[] {
  const violations = openLimitViolations(open, limits);
  // Past the count limit the patterns themselves are not looked at.
  if (violations.some((v) => v.field === "open.patterns")) return violations;
  if (open.patterns.length === 0) {
    violations.push({ field: "open.patterns", description: "must name at least one pattern", reason: "REQUIRED" });
  }
  open.patterns.forEach((pattern, i) => {
    const error = patternError(pattern);
    if (error !== undefined) {
      violations.push({ field: `open.patterns[${i}]`, description: `'${pattern.slice(0, 100)}' ${error}`, reason: "PATTERN" });
    }
  });
  violations.push(...validateGroupOpen(open));
  if (open.maxInFlight > MAX_MAX_IN_FLIGHT) {
    violations.push({
      field: "open.max_in_flight",
      description: `must be at most ${MAX_MAX_IN_FLIGHT}, got ${open.maxInFlight}`,
      reason: "OUT_OF_RANGE",
    });
  }
  return violations;
}

/** The sequence after which the subscription starts delivering. */
async function startAfter(store: StorageBackend, open: OpenSubscription, head: bigint): Promise<bigint> {
  const start = open.start?.position;
  switch (start?.$case) {
    case undefined:
    case "latest":
      return head;
    case "earliest":
      return 0n;
    case "sequence":
      return start.sequence > 0n ? start.sequence - 1n : 0n;
    case "time":
      return (await store.sequenceAtTime(start.time)) - 1n;
  }
}

/**
 * Validates `open` (INVALID_ARGUMENT with every violation), resolves its
 * start position and builds the subscription writing to `sink`; a group
 * member's group is opened (created on first use) here.
 */
export async function openSubscription(options: SubscriptionFactoryOptions, open: OpenSubscription, sink: DeliverySink): Promise<OpenedSubscription> {
  const violations = validateOpen(open, options.limits);
  if (violations.length > 0) throw invalidArgument(violations);
  const { store } = options;
  const headSequence = await store.headSequence();
  const afterSequence = await startAfter(store, open, headSequence);
  const common = {
    id: randomUUID(),
    maxInFlight: open.maxInFlight === 0 ? DEFAULT_MAX_IN_FLIGHT : open.maxInFlight,
    manualCredit: open.manualCredit,
    heartbeatMs: options.heartbeatMs,
    observer: options.observer,
    maxUnackedBytes: options.maxUnackedBytes ?? DEFAULT_MAX_UNACKED_BYTES,
  };
  if (open.group !== "") {
    const group = await store.groups.open({
      name: open.group,
      patterns: open.patterns,
      filter: open.filter,
      settings: groupSettingsFromProto(open.groupSettings),
      startAfter: afterSequence,
    });
    options.onGroupOpened?.(group);
    return { subscription: new GroupSubscription(group, sink, common), headSequence };
  }
  const subscription = new BroadcastSubscription(store, sink, {
    ...common,
    matcher: compilePatterns(open.patterns),
    afterSequence,
    headSequence,
    ...(options.budget !== undefined ? { budget: options.budget } : {}),
    ...(open.filter !== "" ? { filter: compileFilter(open.filter, options.limits) } : {}),
  });
  return { subscription, headSequence };
}
