/**
 * The rate-limit link of the interceptor chain: publishes are counted per
 * caller (events and payload bytes) and subscriptions and group
 * memberships held open are counted against quotas. A caller is its
 * principal when authentication is on, its connection when it is off.
 */
import type { PublishRequest, SubscribeRequest } from "@protobus/sdk/proto";
import type { CallContext, Interceptor } from "../transport/interceptor.js";
import type { Limits } from "./limits.js";
import type { LimitSubject, RateLimiter } from "./rate-limiter.js";

/** Options of {@link rateLimitInterceptor}. */
export interface RateLimitInterceptorOptions {
  readonly limiter: RateLimiter;
  /** The limits of a principal (the policy's over the configured defaults); of a connection, the defaults. */
  readonly limitsOf: (principalId: string | undefined) => Limits;
}

const PUBLISH = "/protobus.v1.EventBus/Publish";
const PUBLISH_STREAM = "/protobus.v1.EventBus/PublishStream";
const SUBSCRIBE = "/protobus.v1.EventBus/Subscribe";
const RELEASE = "protobus.rate-limit.release";

/** Who `ctx` is for the limiter. */
export function limitSubject(ctx: CallContext, limitsOf: (principalId: string | undefined) => Limits): LimitSubject {
  const principal = ctx.principal;
  return principal !== undefined
    ? { key: `principal:${principal.id}`, label: principal.id, limits: limitsOf(principal.id) }
    : { key: `connection:${ctx.peer}`, label: "(connection)", limits: limitsOf(undefined) };
}

/** Refuses publishes over the caller's rate and subscriptions over its quotas with RESOURCE_EXHAUSTED. */
export function rateLimitInterceptor(options: RateLimitInterceptorOptions): Interceptor {
  const { limiter, limitsOf } = options;
  return {
    name: "rate-limit",
    onMessage(ctx, message) {
      if (ctx.path === PUBLISH || ctx.path === PUBLISH_STREAM) {
        const events = (message as PublishRequest).events;
        let bytes = 0;
        for (const event of events) bytes += event.data.length;
        const refusal = limiter.admitPublish(limitSubject(ctx, limitsOf), events.length, bytes);
        if (refusal !== undefined) throw refusal;
        return;
      }
      if (ctx.path === SUBSCRIBE) {
        const request = (message as SubscribeRequest).request;
        if (request?.$case !== "open" || ctx.state.has(RELEASE)) return;
        const result = limiter.openSubscription(limitSubject(ctx, limitsOf), request.open.group);
        if (typeof result !== "function") throw result;
        ctx.state.set(RELEASE, result);
      }
    },
    onEnd(ctx) {
      (ctx.state.get(RELEASE) as (() => void) | undefined)?.();
    },
  };
}
