/**
 * A protobus server: the EventBus and SchemaRegistry services, health and reflection on one
 * grpc-js server over one storage backend, with a graceful shutdown.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import { DEFAULT_CONFIG, type ServerConfig } from "./config.js";
import type { EventBus } from "./bus/event-bus.js";
import { createLogger, type Logger } from "./logger.js";
import { checkBind } from "./security/bind-guard.js";
import { authConfigured, createSecurity, type Security } from "./security/security-setup.js";
import { createServerCore } from "./server-core.js";
import { startSideEndpoints, type SideEndpoints } from "./server-endpoints.js";
import { shutdownServer, type RunningParts } from "./server-shutdown.js";
import type { StorageBackend } from "./storage/backend.js";
import { createBackend } from "./storage/create-backend.js";
import { MemoryBudget, defaultMemoryBudget } from "./storage/memory-budget.js";
import type { SchemaRegistry } from "./registry/schema-registry.js";
import { ConnectionGate } from "./transport/connection-gate.js";
import { createGrpcServer } from "./transport/grpc-server.js";
import { HealthStatus } from "./transport/health.js";
import { DescriptorReflection, loadBundledDescriptorSet } from "./transport/reflection.js";
import { createServerInterceptor, type SecurityInterceptors } from "./transport/server-interceptors.js";
import { SERVED_DEFINITIONS, SERVED_SERVICES } from "./transport/services.js";
import { StreamRegistry } from "./transport/stream-registry.js";
import { requestLane } from "./transport/request-lane.js";
import { WAITING_LIMIT_NAME, WaitingRequests } from "./transport/waiting-requests.js";
import { registerLaneGauges } from "./telemetry/lane-gauges.js";
import type { BusMetrics } from "./telemetry/metrics.js";
import { VERSION } from "./version.js";
import { stripUndefined } from "./strip-undefined.js";

/** Options of {@link startServer}: any part of the config, plus injectables. */
export interface StartServerOptions extends Partial<ServerConfig> {
  /** Use this backend instead of creating one from `store`. */
  readonly backend?: StorageBackend;
  /** Where to log; built from logLevel/logFormat by default. */
  readonly logger?: Logger;
  /** The security links of the interceptor chain (authentication, authorization, rate limits). */
  readonly interceptors?: SecurityInterceptors;
}

/** A running server. */
export interface ProtobusServer {
  /** The port it listens on (the chosen one when 0 was asked). */
  readonly port: number;
  /** `host:port`, ready for `createClient({ address })`. */
  readonly address: string;
  /** The bus, for embedding. */
  readonly bus: EventBus;
  /** The backend it stores in. */
  readonly backend: StorageBackend;
  /** The port of the `/metrics` endpoint, when it is on. */
  readonly metricsPort: number | undefined;
  /** The schema registry, for embedding. */
  readonly registry: SchemaRegistry;
  /** The web console's URL (`http://host:port/`), when it is on. */
  readonly consoleUrl: string | undefined;
  /**
   * TLS, authentication, authorization and limits as configured; its
   * `authenticator` serves HTTP endpoints too (`authenticateHttp`).
   */
  readonly security: Security;
  /** Reads certificates, the token file, a JWKS file and the policy again now (what SIGHUP does). */
  reload(): void;
  /**
   * Stops gracefully: refuses new calls, lets in-flight publishes finish,
   * ends open streams with UNAVAILABLE, then closes the store. Forces after
   * the grace period.
   */
  shutdown(): Promise<void>;
}

/** Opens the configured backend (unless one was given) and reports what a user must know about it. */
async function openBackend(config: ServerConfig, given: StorageBackend | undefined, logger: Logger, budget: MemoryBudget): Promise<StorageBackend> {
  const backend = given ?? (await createBackend({ ...config, memoryBudget: budget, logger }));
  if (!backend.info.durable) {
    logger.warn(`the ${backend.info.kind} store keeps NOTHING: every event is lost when the server stops`);
  }
  for (const problem of backend.groups.loadProblems()) {
    logger.error(`consumer group '${problem.name}' is stored but cannot run: ${problem.reason}; it is listed as broken until it is deleted`, {
      group: problem.name,
    });
  }
  return backend;
}

/** Refuses an exposed listener (no TLS, no authentication) before anything is opened. */
function guardListeners(config: ServerConfig, logger: Logger): void {
  const protection = { tls: config.tlsCert !== "", auth: authConfigured(config), insecure: config.insecure };
  checkBind(config.host, protection, logger);
  if (config.metricsPort > 0) checkBind(config.metricsHost, { ...protection, auth: true }, logger, "the metrics endpoint");
}

/** Runs `undo` in reverse order, ignoring their failures, then rethrows `error`. */
async function unwind(undo: ReadonlyArray<() => unknown>, error: unknown): Promise<never> {
  for (const step of [...undo].reverse()) {
    try {
      await step();
    } catch {
      // The first failure is the one to report.
    }
  }
  throw error;
}

/** The transport's budget of large requests waiting for their turn, with its gauges and the request lane's on `/metrics`. */
function waitingRequests(limit: number, metrics: BusMetrics | undefined): WaitingRequests {
  const waiting = new WaitingRequests({ limit, onRefused: () => metrics?.recordThrottled("(connection)", WAITING_LIMIT_NAME) });
  if (metrics !== undefined) registerLaneGauges(metrics.registry, requestLane, waiting);
  return waiting;
}

/** Creates, binds and starts a server. */
export async function startServer(options: StartServerOptions = {}): Promise<ProtobusServer> {
  const config: ServerConfig = { ...DEFAULT_CONFIG, ...stripUndefined(options) };
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  guardListeners(config, logger);
  // One budget for the backend's group read-ahead and the bus's unacked deliveries.
  const budget = new MemoryBudget(config.memoryBudget > 0 ? config.memoryBudget : defaultMemoryBudget());
  const backend = await openBackend(config, options.backend, logger, budget);
  const undo: Array<() => unknown> = [() => backend.close()];
  const core = createServerCore(config, backend, logger, budget);
  const { bus, metrics } = core;
  const security = await Promise.resolve()
    .then(() => createSecurity(config, { logger, publish: (events) => bus.publish(events, { system: true }), ...(metrics !== undefined ? { metrics } : {}) }))
    .catch((error: unknown) => unwind(undo, error));
  undo.push(() => security.close());
  const streams = new StreamRegistry();
  const health = new HealthStatus(SERVED_SERVICES);
  const reflection = new DescriptorReflection(loadBundledDescriptorSet(), SERVED_SERVICES);
  const interceptor = createServerInterceptor({
    logger,
    waiting: waitingRequests(config.maxWaitingRequestBytes, metrics),
    ...security.links,
    ...options.interceptors,
    ...(metrics !== undefined ? { metrics } : {}),
  });
  const server = createGrpcServer(config, { interceptor, core, streams, health, reflection, logger });
  const gate = await ConnectionGate.listen(server, {
    host: config.host,
    port: config.port,
    maxConnections: config.maxConnections,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    credentials: security.credentials,
    tls: security.tls !== undefined,
    services: SERVED_DEFINITIONS,
    logger,
  }).catch((error: unknown) =>
    unwind(undo, new ProtobusError(Code.UNAVAILABLE, `cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`, [], { cause: error })),
  );
  undo.push(() => gate.close(), () => server.forceShutdown());
  const port = gate.port;
  const address = `${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  const endpoints = await startSideEndpoints(config, { metrics, security, grpcPort: port, logger }).catch((error: unknown) => unwind(undo, error));
  core.monitor.start();
  logListening(logger, { config, address, backend, security, endpoints });

  let stopping: Promise<void> | undefined;
  const running: RunningParts = { core, backend, security, server, gate, streams, health, endpoints, logger, graceMs: config.shutdownGraceMs };
  const shutdown = (): Promise<void> => (stopping ??= shutdownServer(running));
  const reload = (): void => {
    logger.info("reloading certificates, tokens, keys and policy");
    security.reload();
  };
  const { metricsServer, consoleServer } = endpoints;
  return { port, address, bus, backend, registry: core.registry, metricsPort: metricsServer?.port, consoleUrl: consoleServer?.url, security, reload, shutdown };
}

/** The one line a started server logs. */
function logListening(
  logger: Logger,
  parts: { config: ServerConfig; address: string; backend: StorageBackend; security: Security; endpoints: SideEndpoints },
): void {
  const { config, backend, security } = parts;
  const { metricsServer, consoleServer } = parts.endpoints;
  logger.info("protobus listening", {
    address: parts.address,
    store: backend.info.kind,
    location: backend.info.location,
    version: VERSION,
    tls: security.tls === undefined ? "off" : security.tls.mutual ? "mutual" : "on",
    auth: security.authEnabled ? "on" : "off",
    ...(metricsServer !== undefined ? { metrics: `${metricsServer.scheme}://${config.metricsHost}:${metricsServer.port}/metrics` } : {}),
    ...(consoleServer !== undefined ? { console: consoleServer.url } : {}),
  });
}
