/**
 * The first link of the chain: counts every call by service, method and
 * final status code, and times unary calls, in the server's Prometheus
 * metrics. Rejections by later interceptors (authentication, rate limits)
 * are counted too, since `onEnd` sees every call.
 */
import { codeName } from "@protobus/sdk";
import type { BusMetrics } from "../../telemetry/metrics.js";
import type { CallContext, Interceptor } from "../interceptor.js";

/** An interceptor recording `protobus_rpcs_total` and `protobus_rpc_duration_seconds`. */
export function metricsInterceptor(metrics: BusMetrics): Interceptor {
  const started = new WeakMap<CallContext, number>();
  return {
    name: "metrics",
    onCall(ctx) {
      if (ctx.kind === "unary") started.set(ctx, performance.now());
    },
    onEnd(ctx, status) {
      const start = started.get(ctx);
      const seconds = start === undefined ? undefined : (performance.now() - start) / 1000;
      metrics.recordRpc(ctx.service, ctx.method, codeName(status.code), seconds);
    },
  };
}
