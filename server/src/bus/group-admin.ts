/**
 * Consumer-group and dead-letter administration over the store's
 * `GroupStore`: the request validation and the mapping between the wire
 * messages and the store's types. The bus offers it as `bus.admin`.
 */
import { compilePatterns, durationFromMs, msFromDuration } from "@protobus/sdk/internal";
import type {
  DeliveryStats,
  GroupInfo,
  GroupSettings as GroupSettingsMessage,
  ListDeadLettersRequest,
  ListDeadLettersResponse,
  ListGroupsResponse,
  OpenSubscription,
  PurgeDeadLettersRequest,
  PurgeDeadLettersResponse,
  RedriveDeadLettersRequest,
  RedriveDeadLettersResponse,
} from "@protobus/sdk/proto";
import { invalidArgument, notFound, type FieldViolation } from "../errors.js";
import type { DeadLetterSelection, GroupSettings, GroupStats, GroupStore } from "../storage/group-store.js";
import { countersToWire } from "../storage/group-stat-counters.js";
import { DEFAULT_INPUT_LIMITS, type InputLimits } from "../limits.js";
import type { DeliveryMetrics } from "./delivery-metrics.js";
import { encodePageToken, MAX_SEQUENCE, sequenceViolation } from "./page-token.js";
import { patternCountViolations } from "./open-limits.js";
import { pageStart } from "./page-request.js";

/** What a group name may look like. */
export const GROUP_NAME_REGEX = /^[A-Za-z0-9_.-]{1,128}$/;

/** Bounds of group settings, in ms where they are durations. */
export const GROUP_SETTING_LIMITS = {
  ackDeadlineMs: { min: 10, max: 3_600_000 },
  maxDeliveries: { min: 1, max: 1000 },
  backoffMs: { min: 0, max: 3_600_000 },
} as const;

const DEFAULT_DLQ_LIMIT = 100;
const MAX_DLQ_LIMIT = 1000;

function groupNameViolation(name: string, field: string): FieldViolation | undefined {
  if (name === "") return { field, description: "is required", reason: "REQUIRED" };
  if (!GROUP_NAME_REGEX.test(name)) {
    return { field, description: `'${name.slice(0, 140)}' must be 1..128 characters of letters, digits, '_', '.', '-'`, reason: "GROUP_NAME" };
  }
  return undefined;
}

/** The store settings named by an `OpenSubscription.group_settings` (unset fields left out). */
export function groupSettingsFromProto(message: GroupSettingsMessage | undefined): Partial<GroupSettings> {
  if (message === undefined) return {};
  const out: { -readonly [K in keyof GroupSettings]?: GroupSettings[K] } = {};
  const ackDeadline = msFromDuration(message.ackDeadline);
  if (ackDeadline > 0) out.ackDeadlineMs = ackDeadline;
  if (message.maxDeliveries > 0) out.maxDeliveries = message.maxDeliveries;
  const min = msFromDuration(message.backoffMin);
  if (min > 0) out.backoffMinMs = min;
  const max = msFromDuration(message.backoffMax);
  if (max > 0) out.backoffMaxMs = max;
  return out;
}

/** The violations of the group part of an `open`. */
export function validateGroupOpen(open: OpenSubscription): FieldViolation[] {
  if (open.group === "") return [];
  const violations: FieldViolation[] = [];
  const name = groupNameViolation(open.group, "open.group");
  if (name !== undefined) violations.push(name);
  const s = groupSettingsFromProto(open.groupSettings);
  const range = (field: string, value: number | undefined, min: number, max: number, unit: string): void => {
    if (value !== undefined && (value < min || value > max)) {
      violations.push({ field, description: `must be from ${min} to ${max}${unit}, got ${value}${unit}`, reason: "OUT_OF_RANGE" });
    }
  };
  const l = GROUP_SETTING_LIMITS;
  range("open.group_settings.ack_deadline", s.ackDeadlineMs, l.ackDeadlineMs.min, l.ackDeadlineMs.max, " ms");
  range("open.group_settings.max_deliveries", s.maxDeliveries, l.maxDeliveries.min, l.maxDeliveries.max, "");
  range("open.group_settings.backoff_min", s.backoffMinMs, l.backoffMs.min, l.backoffMs.max, " ms");
  range("open.group_settings.backoff_max", s.backoffMaxMs, l.backoffMs.min, l.backoffMs.max, " ms");
  if (s.backoffMinMs !== undefined && s.backoffMaxMs !== undefined && s.backoffMinMs > s.backoffMaxMs) {
    violations.push({ field: "open.group_settings.backoff_max", description: "must not be less than backoff_min", reason: "OUT_OF_RANGE" });
  }
  return violations;
}

/** A group's stats as the wire message. */
export function toGroupInfo(stats: GroupStats): GroupInfo {
  const d = stats.definition;
  return {
    name: d.name,
    patterns: [...d.patterns],
    filter: d.filter,
    settings: {
      ackDeadline: durationFromMs(d.settings.ackDeadlineMs),
      maxDeliveries: d.settings.maxDeliveries,
      backoffMin: durationFromMs(d.settings.backoffMinMs),
      backoffMax: durationFromMs(d.settings.backoffMaxMs),
    },
    createTime: d.createdAt,
    members: stats.members,
    ...countersToWire(stats),
    broken: stats.broken ?? "",
  };
}

function selection(request: { group: string; sequences: bigint[]; all: boolean }): DeadLetterSelection {
  const violations: FieldViolation[] = [];
  const name = groupNameViolation(request.group, "group");
  if (name !== undefined) violations.push(name);
  if (request.all && request.sequences.length > 0) {
    violations.push({ field: "sequences", description: "must be empty when 'all' is set", reason: "CONFLICT" });
  }
  if (!request.all && request.sequences.length === 0) {
    violations.push({ field: "sequences", description: "name at least one sequence, or set 'all'", reason: "REQUIRED" });
  }
  const beyond = request.sequences.findIndex((s) => s > MAX_SEQUENCE);
  if (beyond >= 0) {
    const violation = sequenceViolation(request.sequences[beyond] as bigint, `sequences[${beyond}]`);
    if (violation !== undefined) violations.push(violation);
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return request.all ? { all: true } : { sequences: request.sequences };
}

/** The group and dead-letter administration the bus offers (ListGroups, GetGroup, dead letters...). */
export class GroupAdmin {
  readonly #groups: GroupStore;
  readonly #metrics: DeliveryMetrics;

  readonly #limits: InputLimits;

  /** @param groups the store's groups; @param metrics the bus's per-type delivery counters; @param limits the input limits (patterns per listing). */
  constructor(groups: GroupStore, metrics: DeliveryMetrics, limits: InputLimits = DEFAULT_INPUT_LIMITS) {
    this.#groups = groups;
    this.#metrics = metrics;
    this.#limits = limits;
  }

  /** Every group with its stats. */
  async listGroups(): Promise<ListGroupsResponse> {
    return { groups: (await this.#groups.list()).map(toGroupInfo) };
  }

  /** One group's stats; NOT_FOUND when there is none. */
  async getGroup(name: string): Promise<GroupInfo> {
    const violation = groupNameViolation(name, "name");
    if (violation !== undefined) throw invalidArgument([violation]);
    const stats = await this.#groups.get(name);
    if (stats === undefined) throw notFound("consumer group", name);
    return toGroupInfo(stats);
  }

  /** Deletes a group; NOT_FOUND when there is none. */
  async deleteGroup(name: string): Promise<object> {
    const violation = groupNameViolation(name, "name");
    if (violation !== undefined) throw invalidArgument([violation]);
    if (!(await this.#groups.delete(name))) throw notFound("consumer group", name);
    return {};
  }

  /** One page of a group's dead letters. */
  async listDeadLetters(request: ListDeadLettersRequest): Promise<ListDeadLettersResponse> {
    const violations: FieldViolation[] = patternCountViolations(request.patterns, "patterns", this.#limits);
    if (violations.length > 0) throw invalidArgument(violations);
    const beyond = sequenceViolation(request.fromSequence, "from_sequence");
    if (beyond !== undefined) violations.push(beyond);
    const name = groupNameViolation(request.group, "group");
    if (name !== undefined) violations.push(name);
    const from = pageStart(request, MAX_DLQ_LIMIT, violations);
    if (violations.length > 0) throw invalidArgument(violations);
    const limit = request.limit === 0 ? DEFAULT_DLQ_LIMIT : request.limit;
    const found = await this.#groups.listDeadLetters(request.group, {
      afterSequence: from - 1n,
      limit: limit + 1,
      ...(request.patterns.length > 0 ? { patterns: compilePatterns(request.patterns).patterns } : {}),
    });
    const page = found.slice(0, limit);
    const next = found.length > limit ? found[limit] : undefined;
    return {
      deadLetters: page.map((d) => ({ event: d.stored.event, attempts: d.attempts, reason: d.reason, deadTime: d.deadAt })),
      nextPageToken: next === undefined ? "" : encodePageToken(next.stored.sequence),
    };
  }

  /** Puts dead letters back into their group; answers how many. */
  async redrive(request: RedriveDeadLettersRequest): Promise<RedriveDeadLettersResponse> {
    const select = selection(request);
    return { count: BigInt(await this.#groups.redrive(request.group, select)) };
  }

  /** Drops dead letters; answers how many. */
  async purge(request: PurgeDeadLettersRequest): Promise<PurgeDeadLettersResponse> {
    const select = selection(request);
    return { count: BigInt(await this.#groups.purge(request.group, select)) };
  }

  /** Per-type delivery counters and every group's stats. */
  async deliveryStats(): Promise<DeliveryStats> {
    return { types: this.#metrics.snapshot(), groups: (await this.#groups.list()).map(toGroupInfo) };
  }
}
