/**
 * The grpc-js server of a protobus server: its channel options (message
 * sizes, keepalive, streams per connection), the one interceptor chain, and
 * every hosted service with its typed implementation.
 */
import { Server, type ServerInterceptor } from "@grpc/grpc-js";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { ServerCore } from "../server-core.js";
import { createEventBusService } from "./event-bus-service.js";
import type { HealthStatus } from "./health.js";
import type { DescriptorReflection } from "./reflection.js";
import { createSchemaRegistryService } from "./schema-registry-service.js";
import { registerServices } from "./services.js";
import type { StreamRegistry } from "./stream-registry.js";

/** What {@link createGrpcServer} hosts. */
export interface GrpcServerParts {
  /** The interceptor chain (see `server-interceptors.ts`). */
  readonly interceptor: ServerInterceptor;
  /** The bus, the registry and their companions. */
  readonly core: ServerCore;
  /** Open streams, ended at shutdown. */
  readonly streams: StreamRegistry;
  /** The health service's state. */
  readonly health: HealthStatus;
  /** The reflection service. */
  readonly reflection: DescriptorReflection;
  /** Where handlers log failures. */
  readonly logger: Logger;
}

/** Creates the grpc-js server with the chain and every service, not yet bound. */
export function createGrpcServer(config: ServerConfig, parts: GrpcServerParts): Server {
  const server = new Server({
    // One chain for every call: metrics, tracing, then the security links.
    interceptors: [parts.interceptor],
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
  const { core, logger } = parts;
  // A schema request far over --max-schema-bytes is refused before it is decoded.
  const maxSchemaBytes = core.limits.maxSchemaBytes;
  const schemaCap = { maxBytes: maxSchemaBytes + 64 * 1024, limit: "max-schema-bytes", limitValue: maxSchemaBytes, field: "schema" };
  registerServices(
    server,
    {
      eventBus: createEventBusService(core.bus, parts.streams, { logger, ...(core.outcomes !== undefined ? { outcomes: core.outcomes } : {}) }),
      schemaRegistry: createSchemaRegistryService(core.registry, logger),
      health: parts.health.implementation(),
      reflection: parts.reflection.implementation(),
    },
    { schemaRegistry: { registerSchema: schemaCap, checkCompatibility: schemaCap } },
  );
  return server;
}
