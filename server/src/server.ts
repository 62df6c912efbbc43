/**
 * A protobus server: the EventBus and SchemaRegistry services, health and reflection on one
 * grpc-js server over one storage backend, with a graceful shutdown.
 */
import { Server } from "@grpc/grpc-js";
import { Code, ProtobusError } from "@protobus/sdk";
import { HealthCheckResponse_ServingStatus } from "@protobus/sdk/proto";
import { DEFAULT_CONFIG, type ServerConfig } from "./config.js";
import { EventBus } from "./bus/event-bus.js";
import { createEventBusService } from "./transport/event-bus-service.js";
import { registerServices, SERVED_DEFINITIONS, SERVED_SERVICES } from "./transport/services.js";
import { HealthStatus } from "./transport/health.js";
import { StreamRegistry } from "./transport/stream-registry.js";
import { createServerInterceptor, type SecurityInterceptors } from "./transport/server-interceptors.js";
import { checkBind } from "./security/bind-guard.js";
import { authConfigured, createSecurity, type Security } from "./security/security-setup.js";
import { createLogger, type Logger } from "./logger.js";
import { DescriptorReflection, loadBundledDescriptorSet } from "./transport/reflection.js";
import type { StorageBackend } from "./storage/backend.js";
import { createBackend } from "./storage/create-backend.js";
import { ConnectionGate } from "./transport/connection-gate.js";
import { VERSION } from "./version.js";
import { pickInputLimits } from "./limits.js";
import { FlowMonitor } from "./flow/monitor.js";
import { OutcomeRecorder } from "./flow/outcome-recorder.js";
import { combineObservers } from "./telemetry/delivery-observer.js";
import { BusMetrics } from "./telemetry/metrics.js";
import { startMetricsServer, type MetricsServer } from "./telemetry/metrics-server.js";
import { SchemaValidator } from "./registry/payload-validator.js";
import { SchemaRegistry } from "./registry/schema-registry.js";
import { createSchemaRegistryService } from "./transport/schema-registry-service.js";
import { startConsoleServer, type ConsoleServer } from "./console/console-server.js";

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

/** Creates, binds and starts a server. */
export async function startServer(options: StartServerOptions = {}): Promise<ProtobusServer> {
  const config: ServerConfig = { ...DEFAULT_CONFIG, ...stripUndefined(options) };
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // Refuse an exposed listener before anything is opened.
  const protection = { tls: config.tlsCert !== "", auth: authConfigured(config), insecure: config.insecure };
  checkBind(config.host, protection, logger);
  if (config.metricsPort > 0) checkBind(config.metricsHost, { ...protection, auth: true }, logger, "the metrics endpoint");
  const backend = options.backend ?? (await createBackend(config));
  if (!backend.info.durable) {
    logger.warn(`the ${backend.info.kind} store keeps NOTHING: every event is lost when the server stops`);
  }
  for (const problem of backend.groups.loadProblems()) {
    logger.error(`consumer group '${problem.name}' is stored but cannot run: ${problem.reason}; it is listed as broken until it is deleted`, {
      group: problem.name,
    });
  }
  const metrics = config.metricsPort > 0 ? new BusMetrics({ maxTypes: config.metricsMaxTypes }) : undefined;
  const outcomes = config.flowOutcomes > 0 ? new OutcomeRecorder(config.flowOutcomes) : undefined;
  const observer = combineObservers([metrics, outcomes]);
  const limits = pickInputLimits(config);
  const registry = new SchemaRegistry(backend.schemas, { limits });
  const validator = new SchemaValidator(registry, { requireSchemas: config.requireSchemas });
  const bus = new EventBus(backend, {
    validator,
    limits,
    maxPayloadBytes: config.maxPayloadBytes,
    maxBatchSize: config.maxBatchSize,
    dedupeWindowMs: config.dedupeWindowMs,
    maxTrackedTypes: config.metricsMaxTypes,
    version: VERSION,
    heartbeatMs: config.heartbeatMs,
    ...(metrics !== undefined ? { metrics } : {}),
    ...(observer !== undefined ? { observer } : {}),
  });
  const monitor = new FlowMonitor(bus, {
    rules: {
      slowFlowAfterMs: config.flowSlowAfterMs,
      startTypes: config.flowStartTypes,
      terminalTypes: config.flowTerminalTypes,
      rateSpikeSigma: config.rateSpikeSigma,
      rateWindowMs: config.rateWindowMs,
      rateBucketMs: config.rateBucketMs,
      rateSpikeMinCount: config.rateSpikeMinCount,
    },
    logger,
    ...(metrics !== undefined ? { metrics } : {}),
  });
  let security: Security;
  try {
    security = createSecurity(config, { logger, publish: (events) => bus.publish(events), ...(metrics !== undefined ? { metrics } : {}) });
  } catch (error) {
    await backend.close();
    throw error;
  }
  metrics?.addBacklogSource(async () => new Map((await backend.groups.list()).map((g) => [g.definition.name, g.backlog])));
  const streams = new StreamRegistry();
  const health = new HealthStatus(SERVED_SERVICES);
  const reflection = new DescriptorReflection(loadBundledDescriptorSet(), SERVED_SERVICES);

  const server = new Server({
    // One chain for every call: metrics, tracing, then the security links.
    interceptors: [createServerInterceptor({ logger, ...security.links, ...options.interceptors, ...(metrics !== undefined ? { metrics } : {}) })],
    // Room for a batch of full-size payloads plus envelopes.
    "grpc.max_receive_message_length": Math.max(4 * 1024 * 1024, config.maxPayloadBytes * 4 + 64 * 1024),
    "grpc.max_send_message_length": -1,
    // Pings find half-open connections (a peer that vanished without a FIN):
    // such a connection is closed after interval + timeout (20 s by default),
    // which ends its streams and gives a group member's deliveries back.
    "grpc.keepalive_time_ms": config.keepaliveIntervalMs,
    "grpc.keepalive_timeout_ms": config.keepaliveTimeoutMs,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    // Streams one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
    "grpc.max_concurrent_streams": config.maxStreamsPerConnection,
  });
  // A schema request far over --max-schema-bytes is refused before it is decoded.
  const schemaCap = { maxBytes: limits.maxSchemaBytes + 64 * 1024, limit: "max-schema-bytes", limitValue: limits.maxSchemaBytes, field: "schema" };
  registerServices(
    server,
    {
      eventBus: createEventBusService(bus, streams, { logger, ...(outcomes !== undefined ? { outcomes } : {}) }),
      schemaRegistry: createSchemaRegistryService(registry, logger),
      health: health.implementation(),
      reflection: reflection.implementation(),
    },
    { schemaRegistry: { registerSchema: schemaCap, checkCompatibility: schemaCap } },
  );

  let gate: ConnectionGate;
  try {
    gate = await ConnectionGate.listen(server, {
      host: config.host,
      port: config.port,
      maxConnections: config.maxConnections,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      credentials: security.credentials,
      tls: security.tls !== undefined,
      services: SERVED_DEFINITIONS,
      logger,
    });
  } catch (error) {
    security.close();
    await backend.close();
    throw new ProtobusError(Code.UNAVAILABLE, `cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`, [], {
      cause: error,
    });
  }
  const port = gate.port;
  const address = `${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  let metricsServer: MetricsServer | undefined;
  if (metrics !== undefined) {
    try {
      metricsServer = await startMetricsServer(metrics, config.metricsHost, config.metricsPort, { tls: security.tls, gate: security.scrapeGate });
    } catch (error) {
      gate.close();
      server.forceShutdown();
      security.close();
      await backend.close();
      throw new ProtobusError(Code.UNAVAILABLE, `cannot serve metrics on ${config.metricsHost}:${config.metricsPort}: ${(error as Error).message}`, [], {
        cause: error,
      });
    }
  }
  let consoleServer: ConsoleServer | undefined;
  if (config.consolePort > 0) {
    try {
      consoleServer = await startConsoleServer({
        host: config.host,
        port: config.consolePort,
        grpcAddress: loopbackAddress(config.host, port),
        jaegerUrl: config.jaegerUrl,
        version: VERSION,
        maxBodyBytes: Math.max(4 * 1024 * 1024, config.maxPayloadBytes * 2 + 64 * 1024),
        logger,
      });
    } catch (error) {
      server.forceShutdown();
      await metricsServer?.close();
      security.close();
      await backend.close();
      throw new ProtobusError(Code.UNAVAILABLE, `cannot serve the console on ${config.host}:${config.consolePort}: ${(error as Error).message}`, [], {
        cause: error,
      });
    }
  }
  monitor.start();
  logger.info("protobus listening", {
    address,
    store: backend.info.kind,
    location: backend.info.location,
    version: VERSION,
    tls: security.tls === undefined ? "off" : security.tls.mutual ? "mutual" : "on",
    auth: security.authEnabled ? "on" : "off",
    ...(metricsServer !== undefined ? { metrics: `${metricsServer.scheme}://${config.metricsHost}:${metricsServer.port}/metrics` } : {}),
    ...(consoleServer !== undefined ? { console: consoleServer.url } : {}),
  });

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info("shutting down", { openStreams: streams.size });
      health.setAll(HealthCheckResponse_ServingStatus.NOT_SERVING);
      monitor.stop();
      await consoleServer?.close();
      const drained = bus.drain();
      streams.closeAll(new ProtobusError(Code.UNAVAILABLE, "the server is shutting down; reconnect to resume"));
      health.endWatches();
      await Promise.race([drained, delay(config.shutdownGraceMs)]);
      gate.close();
      await new Promise<void>((done) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          done();
        }, config.shutdownGraceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          done();
        });
      });
      await metricsServer?.close();
      security.close();
      validator.close();
      await backend.close();
      logger.info("stopped");
    })();
    return stopping;
  };

  const reload = (): void => {
    logger.info("reloading certificates, tokens, keys and policy");
    security.reload();
  };

  return { port, address, bus, backend, registry, metricsPort: metricsServer?.port, consoleUrl: consoleServer?.url, security, reload, shutdown };
}

/** The address the console reaches the gRPC listener at: loopback when it listens on every interface. */
function loopbackAddress(host: string, port: number): string {
  if (host === "0.0.0.0" || host === "") return `127.0.0.1:${port}`;
  if (host === "::" || host === "[::]") return `[::1]:${port}`;
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms).unref());
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
