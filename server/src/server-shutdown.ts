/**
 * The graceful stop of a server, in order: report NOT_SERVING, stop the
 * monitor and the console, refuse new publishes and let the ones being
 * stored finish, end open streams with UNAVAILABLE (clients reconnect
 * elsewhere), close the listener, let calls in flight end (forced after the
 * grace period), then close the endpoints, security, the validator and the
 * store.
 */
import type { Server } from "@grpc/grpc-js";
import { Code, ProtobusError } from "@protobus/sdk";
import { HealthCheckResponse_ServingStatus } from "@protobus/sdk/proto";
import type { Logger } from "./logger.js";
import type { Security } from "./security/security-setup.js";
import type { ServerCore } from "./server-core.js";
import type { SideEndpoints } from "./server-endpoints.js";
import type { StorageBackend } from "./storage/backend.js";
import type { ConnectionGate } from "./transport/connection-gate.js";
import type { HealthStatus } from "./transport/health.js";
import type { StreamRegistry } from "./transport/stream-registry.js";

/** Everything a shutdown stops. */
export interface RunningParts {
  readonly core: ServerCore;
  readonly backend: StorageBackend;
  readonly security: Security;
  readonly server: Server;
  readonly gate: ConnectionGate;
  readonly streams: StreamRegistry;
  readonly health: HealthStatus;
  readonly endpoints: SideEndpoints;
  readonly logger: Logger;
  /** How long publishes and calls in flight may take before they are cut. */
  readonly graceMs: number;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms).unref());
}

/** Waits for the server's calls to end, forcing them after `graceMs`. */
function stopServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((done) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      done();
    }, graceMs);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      done();
    });
  });
}

/** Stops a running server as described above. */
export async function shutdownServer(parts: RunningParts): Promise<void> {
  const { core, logger, health } = parts;
  logger.info("shutting down", { openStreams: parts.streams.size });
  health.setAll(HealthCheckResponse_ServingStatus.NOT_SERVING);
  core.monitor.stop();
  await parts.endpoints.consoleServer?.close();
  const drained = core.bus.drain();
  parts.streams.closeAll(new ProtobusError(Code.UNAVAILABLE, "the server is shutting down; reconnect to resume"));
  health.endWatches();
  await Promise.race([drained, delay(parts.graceMs)]);
  parts.gate.close();
  await stopServer(parts.server, parts.graceMs);
  await parts.endpoints.metricsServer?.close();
  parts.security.close();
  core.validator.close();
  await parts.backend.close();
  logger.info("stopped");
}
