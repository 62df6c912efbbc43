/**
 * The server's one interceptor chain, assembled here and nowhere else.
 * Order: metrics first (so it sees every call, rejected ones included),
 * then trace context extraction, then the security slots: authentication
 * (sets `ctx.principal`), authorization (decides on it), rate limits.
 */
import type { ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "../logger.js";
import type { BusMetrics } from "../telemetry/metrics.js";
import type { Interceptor } from "./interceptor.js";
import { interceptorChain } from "./interceptor-chain.js";
import { metricsInterceptor } from "./interceptors/metrics-interceptor.js";
import { tracingInterceptor } from "./interceptors/tracing-interceptor.js";
import type { WaitingRequests } from "./waiting-requests.js";

/** The security links of the chain, each optional; they run in this order after metrics and tracing. */
export interface SecurityInterceptors {
  /** Identifies the caller and sets `ctx.principal`; rejects with UNAUTHENTICATED. */
  readonly authentication?: Interceptor;
  /** Decides whether `ctx.principal` may make the call; rejects with PERMISSION_DENIED. */
  readonly authorization?: Interceptor;
  /** Limits calls and messages; rejects with RESOURCE_EXHAUSTED. */
  readonly rateLimit?: Interceptor;
}

/** Options of {@link serverInterceptors}. */
export interface ServerInterceptorOptions extends SecurityInterceptors {
  /** Where failures of interceptors are logged. */
  readonly logger: Logger;
  /** Where calls are counted; no metrics link when absent. */
  readonly metrics?: BusMetrics;
  /** Bounds the large requests waiting for their turn; unbounded when absent. */
  readonly waiting?: WaitingRequests;
}

/** The links of the chain, in the order they run. */
export function serverInterceptors(options: ServerInterceptorOptions): Interceptor[] {
  const links: Array<Interceptor | undefined> = [
    options.metrics !== undefined ? metricsInterceptor(options.metrics) : undefined,
    tracingInterceptor(),
    options.authentication,
    options.authorization,
    options.rateLimit,
  ];
  return links.filter((link): link is Interceptor => link !== undefined);
}

/** The chain as the one grpc-js server interceptor the server is created with. */
export function createServerInterceptor(options: ServerInterceptorOptions): ServerInterceptor {
  return interceptorChain(serverInterceptors(options), { logger: options.logger, ...(options.waiting !== undefined ? { waiting: options.waiting } : {}) });
}
