/**
 * The domain half of a server, independent of gRPC: metrics, flow
 * outcomes, the schema registry and its payload validator, the bus and the
 * flow monitor, built from the config over one backend.
 */
import type { ServerConfig } from "./config.js";
import { EventBus } from "./bus/event-bus.js";
import { FlowMonitor } from "./flow/monitor.js";
import { OutcomeRecorder } from "./flow/outcome-recorder.js";
import { pickInputLimits, type InputLimits } from "./limits.js";
import type { Logger } from "./logger.js";
import { SchemaValidator } from "./registry/payload-validator.js";
import { SchemaRegistry } from "./registry/schema-registry.js";
import type { StorageBackend } from "./storage/backend.js";
import { combineObservers } from "./telemetry/delivery-observer.js";
import { BusMetrics } from "./telemetry/metrics.js";
import { registerMemoryGauges } from "./telemetry/memory-gauges.js";
import { registerBackendMetrics } from "./telemetry/backend-metrics.js";
import type { MemoryBudget } from "./storage/memory-budget.js";
import { VERSION } from "./version.js";

/** The parts {@link createServerCore} builds. */
export interface ServerCore {
  /** Prometheus metrics, when the metrics endpoint is on. */
  readonly metrics: BusMetrics | undefined;
  /** Consumer outcomes GetFlow reports, when kept. */
  readonly outcomes: OutcomeRecorder | undefined;
  /** Input size limits. */
  readonly limits: InputLimits;
  /** The schema registry. */
  readonly registry: SchemaRegistry;
  /** Checks payloads against the registry; closed at shutdown. */
  readonly validator: SchemaValidator;
  /** The bus. */
  readonly bus: EventBus;
  /** Watches flows and rates; started once the server listens. */
  readonly monitor: FlowMonitor;
}

/** Builds the domain parts of a server over `backend`. */
export function createServerCore(config: ServerConfig, backend: StorageBackend, logger: Logger, budget: MemoryBudget): ServerCore {
  const metrics = config.metricsPort > 0 ? new BusMetrics({ maxTypes: config.metricsMaxTypes }) : undefined;
  if (metrics !== undefined) {
    registerMemoryGauges(metrics.registry, budget);
    registerBackendMetrics(metrics.registry, backend);
  }
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
    queryScanLimit: config.queryScanLimit,
    version: VERSION,
    heartbeatMs: config.heartbeatMs,
    maxUnackedBytes: config.maxUnackedBytes,
    memoryBudget: budget,
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
  metrics?.addBacklogSource(async () => new Map((await backend.groups.list()).map((g) => [g.definition.name, g.backlog])));
  return { metrics, outcomes, limits, registry, validator, bus, monitor };
}
