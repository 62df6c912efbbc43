/**
 * The first link of the chain: counts every call by service, method and
 * final status code, and times unary calls, in the server's Prometheus
 * metrics. Rejections by later interceptors (authentication, rate limits)
 * are counted too, since `onEnd` sees every call.
 */
import { codeName } from "@protobus/sdk";
import type { BusMetrics } from "../../telemetry/metrics.js";
import type { Interceptor } from "../interceptor.js";

/** An interceptor recording `protobus_rpcs_total` and `protobus_rpc_duration_seconds`. */
export function metricsInterceptor(metrics: BusMetrics): Interceptor {
  return {
    name: "metrics",
    onEnd(ctx, status) {
      const seconds = ctx.kind === "unary" ? (performance.now() - ctx.startedAt) / 1000 : undefined;
      metrics.recordRpc(ctx.service, ctx.method, codeName(status.code), seconds);
    },
  };
}
