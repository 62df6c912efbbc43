/**
 * Rate limits and quotas per caller (a principal, or a connection when
 * authentication is off): events per second and per minute with a burst,
 * payload bytes per second, open subscriptions and consumer groups joined.
 * Over a limit, a request gets RESOURCE_EXHAUSTED with `RetryInfo` (how long
 * until it would pass) and `QuotaFailure` (which limit); nothing of it is
 * accepted. Every refusal is counted per principal and limit.
 */
import type { ProtobusError } from "@protobus/sdk";
import { LIMIT_NAMES, type Limits } from "./limits.js";
import { resourceExhausted, type QuotaViolation } from "./security-errors.js";
import { TokenBucket } from "./token-bucket.js";

/** Who a limit applies to. */
export interface LimitSubject {
  /** `principal:<id>` or `connection:<peer>`: the key of the caller's buckets. */
  readonly key: string;
  /** Label of the throttling metric: the principal id, or `(connection)` when authentication is off. */
  readonly label: string;
  /** The caller's limits now. */
  readonly limits: Limits;
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Told about each refusal: the metric label and the limit's name. */
  readonly onThrottled?: (label: string, limit: string) => void;
  /** The clock, in ms; `performance.now` by default. */
  readonly now?: () => number;
}

interface CallerState {
  limits: Limits;
  perSecond: TokenBucket | undefined;
  perMinute: TokenBucket | undefined;
  bytes: TokenBucket | undefined;
  /** What the caller holds open; kept when its limits change. */
  readonly open: { subscriptions: number; readonly groups: Map<string, number> };
}

function sameLimits(a: Limits, b: Limits): boolean {
  return (Object.keys(a) as (keyof Limits)[]).every((k) => a[k] === b[k]);
}

/** The limiter of one server. */
export class RateLimiter {
  readonly #callers = new Map<string, CallerState>();
  readonly #onThrottled: (label: string, limit: string) => void;
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(options: RateLimiterOptions = {}) {
    this.#onThrottled = options.onThrottled ?? (() => {});
    this.#now = options.now ?? (() => performance.now());
  }

  #state(subject: LimitSubject, now: number): CallerState {
    let state = this.#callers.get(subject.key);
    if (state === undefined || !sameLimits(state.limits, subject.limits)) {
      const l = subject.limits;
      const fresh: CallerState = {
        limits: l,
        perSecond: l.eventsPerSecond > 0 ? new TokenBucket(l.eventsPerSecond, l.burst > 0 ? l.burst : l.eventsPerSecond, now) : undefined,
        perMinute: l.eventsPerMinute > 0 ? new TokenBucket(l.eventsPerMinute / 60, l.eventsPerMinute, now) : undefined,
        bytes: l.bytesPerSecond > 0 ? new TokenBucket(l.bytesPerSecond, l.bytesPerSecond, now) : undefined,
        open: state?.open ?? { subscriptions: 0, groups: new Map() },
      };
      this.#callers.set(subject.key, fresh);
      state = fresh;
    }
    if (now - this.#lastSweep > 60_000) this.#sweep(now);
    return state;
  }

  // Forgets callers with nothing open and full buckets: their state equals a fresh one.
  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [key, s] of this.#callers) {
      if (s.open.subscriptions === 0 && (s.perSecond?.full(now) ?? true) && (s.perMinute?.full(now) ?? true) && (s.bytes?.full(now) ?? true)) {
        this.#callers.delete(key);
      }
    }
  }

  #refuse(subject: LimitSubject, limit: keyof Limits, description: string): QuotaViolation {
    const name = LIMIT_NAMES[limit];
    this.#onThrottled(subject.label, name);
    return { subject: subject.key, limit: `limit-${name}`, value: subject.limits[limit], description };
  }

  /**
   * Admits a publish of `events` events of `bytes` payload bytes, or returns
   * the RESOURCE_EXHAUSTED refusal (nothing is taken from any bucket then).
   */
  admitPublish(subject: LimitSubject, events: number, bytes: number): ProtobusError | undefined {
    const now = this.#now();
    const state = this.#state(subject, now);
    const checks: [TokenBucket | undefined, number, keyof Limits, string][] = [
      [state.perSecond, events, "eventsPerSecond", `more than ${subject.limits.eventsPerSecond} events per second (burst ${state.perSecond?.capacity ?? 0})`],
      [state.perMinute, events, "eventsPerMinute", `more than ${subject.limits.eventsPerMinute} events per minute`],
      [state.bytes, bytes, "bytesPerSecond", `more than ${subject.limits.bytesPerSecond} payload bytes per second`],
    ];
    let wait = 0;
    const violations: QuotaViolation[] = [];
    for (const [bucket, n, limit, description] of checks) {
      if (bucket === undefined || n === 0) continue;
      const w = bucket.waitMs(n, now);
      if (w > 0) {
        wait = Math.max(wait, w);
        violations.push(this.#refuse(subject, limit, `${subject.key} publishes ${description}`));
      }
    }
    if (violations.length > 0) return resourceExhausted(violations, wait);
    for (const [bucket, n] of checks) if (bucket !== undefined && n > 0) bucket.take(n, now);
    return undefined;
  }

  /**
   * Counts a subscription opening (as a member of `group` when not empty),
   * or returns the RESOURCE_EXHAUSTED refusal. The returned function gives
   * the slot back when the subscription ends; call it once.
   */
  openSubscription(subject: LimitSubject, group: string): (() => void) | ProtobusError {
    const state = this.#state(subject, this.#now()).open;
    const { subscriptions, groups } = subject.limits;
    if (subscriptions > 0 && state.subscriptions >= subscriptions) {
      return resourceExhausted([this.#refuse(subject, "subscriptions", `${subject.key} already holds ${state.subscriptions} open subscriptions; close one first`)], undefined);
    }
    if (group !== "" && groups > 0 && !state.groups.has(group) && state.groups.size >= groups) {
      return resourceExhausted([this.#refuse(subject, "groups", `${subject.key} is already a member of ${state.groups.size} consumer groups; leave one first`)], undefined);
    }
    state.subscriptions += 1;
    if (group !== "") state.groups.set(group, (state.groups.get(group) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.subscriptions -= 1;
      if (group !== "") {
        const left = (state.groups.get(group) ?? 1) - 1;
        if (left <= 0) state.groups.delete(group);
        else state.groups.set(group, left);
      }
    };
  }
}
