/**
 * The HTTP endpoints beside the gRPC listener: Prometheus `/metrics` (when
 * metrics are on) and the web console (when it has a port). A failure to
 * start either closes what was started and names the endpoint and address.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import type { ServerConfig } from "./config.js";
import { consoleAccess } from "./console/console-access.js";
import { startConsoleServer, type ConsoleServer } from "./console/console-server.js";
import type { Logger } from "./logger.js";
import type { Security } from "./security/security-setup.js";
import type { BusMetrics } from "./telemetry/metrics.js";
import { startMetricsServer, type MetricsServer } from "./telemetry/metrics-server.js";
import type { HttpEndpointLimits } from "./transport/http-endpoint.js";
import { VERSION } from "./version.js";

/** The endpoints that run. */
export interface SideEndpoints {
  /** `/metrics`, when metrics are on. */
  readonly metricsServer: MetricsServer | undefined;
  /** The web console, when it has a port. */
  readonly consoleServer: ConsoleServer | undefined;
}

/** The address the console reaches the gRPC listener at: loopback when it listens on every interface. */
export function loopbackAddress(host: string, port: number): string {
  if (host === "0.0.0.0" || host === "") return `127.0.0.1:${port}`;
  if (host === "::" || host === "[::]") return `[::1]:${port}`;
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function unavailable(what: string, address: string, error: unknown): ProtobusError {
  return new ProtobusError(Code.UNAVAILABLE, `cannot serve ${what} on ${address}: ${(error as Error).message}`, [], { cause: error });
}

/** The gRPC listener's connection limits, which the HTTP endpoints share. */
function httpLimits(config: ServerConfig): HttpEndpointLimits {
  return { maxConnections: config.maxConnections, handshakeTimeoutMs: config.handshakeTimeoutMs };
}

/** Starts `/metrics` and the console as configured; `grpcPort` is the gRPC listener's port. */
export async function startSideEndpoints(
  config: ServerConfig,
  parts: { readonly metrics: BusMetrics | undefined; readonly security: Security; readonly grpcPort: number; readonly logger: Logger },
): Promise<SideEndpoints> {
  let metricsServer: MetricsServer | undefined;
  if (parts.metrics !== undefined) {
    const options = { tls: parts.security.tls, gate: parts.security.scrapeGate, limits: httpLimits(config) };
    try {
      metricsServer = await startMetricsServer(parts.metrics, config.metricsHost, config.metricsPort, options);
    } catch (error) {
      throw unavailable("metrics", `${config.metricsHost}:${config.metricsPort}`, error);
    }
  }
  let consoleServer: ConsoleServer | undefined;
  if (config.consolePort > 0) {
    try {
      consoleServer = await startConsoleServer({
        host: config.host,
        port: config.consolePort,
        grpcAddress: loopbackAddress(config.host, parts.grpcPort),
        jaegerUrl: config.jaegerUrl,
        version: VERSION,
        maxBodyBytes: Math.max(4 * 1024 * 1024, config.maxPayloadBytes * 2 + 64 * 1024),
        access: consoleAccess(parts.security),
        tls: parts.security.tls,
        limits: httpLimits(config),
        maxLiveViews: config.consoleMaxLiveViews,
        logger: parts.logger,
      });
    } catch (error) {
      await metricsServer?.close();
      throw unavailable("the console", `${config.host}:${config.consolePort}`, error);
    }
  }
  return { metricsServer, consoleServer };
}
