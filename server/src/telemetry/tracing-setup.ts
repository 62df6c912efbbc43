/**
 * Trace export from the standard OpenTelemetry environment variables. Off
 * unless an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_TRACES_EXPORTER=otlp`);
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off.
 *
 * - protocol: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`,
 *   `http/protobuf` (default), `http/json` or `grpc`;
 * - resource: `service.name` from `OTEL_SERVICE_NAME` (default `protobus`),
 *   `service.version`, the host, OS and process attributes of the standard
 *   detectors (without the command line, which may hold credentials), then
 *   `OTEL_RESOURCE_ATTRIBUTES`, which wins;
 * - sampler: `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`
 *   (default parentbased_always_on);
 * - batching: `OTEL_BSP_*`.
 *
 * A misconfiguration is logged and leaves tracing off; it never stops the
 * server or fails a publish. Failed exports (an unreachable collector) are
 * logged, rate-limited, with the endpoint; shutdown waits at most
 * `flushTimeoutMs` (1 s) for pending spans.
 */
import type { ResourceDetector } from "@opentelemetry/resources";
import type { BufferConfig, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createLogger, type Logger } from "../logger.js";
import { VERSION } from "../version.js";

/** Tracing as started by {@link startTracing}. */
export interface TracingHandle {
  /** True when spans are exported. */
  readonly enabled: boolean;
  /** Where spans go, e.g. `http/protobuf http://127.0.0.1:4318/v1/traces`; empty when off. */
  readonly description: string;
  /** Flushes pending spans and stops exporting. */
  shutdown(): Promise<void>;
}

/** Options of {@link startTracing}. */
export interface StartTracingOptions {
  /** The environment; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Service name when `OTEL_SERVICE_NAME` is unset. */
  readonly defaultServiceName?: string;
  /**
   * `service.version` of the resource; the protobus version when the
   * service name is protobus's own, else none (`OTEL_RESOURCE_ATTRIBUTES`
   * may set it too).
   */
  readonly serviceVersion?: string;
  /** Where problems are reported; warnings go to stderr by default. */
  readonly logger?: Pick<Logger, "warn" | "info">;
  /** Longest wait for pending spans at shutdown, in ms; 1,000 by default. */
  readonly flushTimeoutMs?: number;
  /**
   * Whether to register an AsyncLocalStorage context manager; true by
   * default. An application needs it: a span started in a handler's async
   * work (a publish) finds its parent through it. The server passes every
   * span's parent explicitly and turns it off, because the async hooks it
   * enables tax every promise and `await` of the process.
   */
  readonly contextManager?: boolean;
}

const OFF: TracingHandle = { enabled: false, description: "", shutdown: () => Promise.resolve() };

/** Reads an env value, treating empty as unset. */
function read(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Starts exporting traces when the environment asks for it, registering a
 * global tracer provider, the W3C trace-context propagator and (unless
 * `contextManager: false`) an AsyncLocalStorage context manager. Spans are
 * exported by a batch span processor, off the publish path.
 */
export async function startTracing(options: StartTracingOptions = {}): Promise<TracingHandle> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger({ level: "warn", format: "text" });
  try {
    if (read(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") return OFF;
    const exporterKind = read(env, "OTEL_TRACES_EXPORTER")?.toLowerCase();
    if (exporterKind === "none") return OFF;
    const endpoint = read(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ?? read(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
    if (endpoint === undefined && exporterKind !== "otlp") return OFF;
    if (exporterKind !== undefined && exporterKind !== "otlp") {
      logger.warn(`OTEL_TRACES_EXPORTER=${exporterKind} is not supported (only otlp and none); tracing stays off`);
      return OFF;
    }
    const protocol = read(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? read(env, "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf";
    if (protocol !== "grpc" && protocol !== "http/json" && protocol !== "http/protobuf") {
      logger.warn(`OTLP protocol '${protocol}' is not supported; exporting with http/protobuf`);
    }
    const used = protocol === "grpc" || protocol === "http/json" ? protocol : "http/protobuf";
    // The URL comes from `env` (not only process.env, which the exporters read).
    const url = exportUrl(env, used);
    const config = url !== undefined ? { url } : {};
    let exporter: SpanExporter;
    if (used === "grpc") {
      const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-grpc");
      exporter = new OTLPTraceExporter(config);
    } else if (used === "http/json") {
      const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
      exporter = new OTLPTraceExporter(config);
    } else {
      const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
      exporter = new OTLPTraceExporter(config);
    }
    // The SDK is loaded only when tracing is on: a CLI command or a server without it does not pay for it.
    const [{ detectResources, envDetector, hostDetector, osDetector, processDetector, resourceFromAttributes }, { BatchSpanProcessor }, { NodeTracerProvider }, { ReportingSpanExporter }] =
      await Promise.all([import("@opentelemetry/resources"), import("@opentelemetry/sdk-trace-base"), import("@opentelemetry/sdk-trace-node"), import("./reporting-exporter.js")]);
    const description = `${used} ${url ?? "(exporter default endpoint)"}`;
    const serviceName = read(env, "OTEL_SERVICE_NAME") ?? options.defaultServiceName ?? "protobus";
    const serviceVersion = options.serviceVersion ?? (serviceName.startsWith("protobus") ? VERSION : undefined);
    const resource = resourceFromAttributes({ "service.name": serviceName, ...(serviceVersion !== undefined ? { "service.version": serviceVersion } : {}) }).merge(
      detectResources({ detectors: [hostDetector, osDetector, withoutCommandLine(processDetector), envDetector] }),
    );
    const reporting = new ReportingSpanExporter(exporter, { destination: description, logger });
    const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(reporting, batchConfig(env))] });
    provider.register(options.contextManager === false ? { contextManager: null } : {});
    logger.info("tracing on", { export: description, service: serviceName });
    const flushTimeoutMs = options.flushTimeoutMs ?? 1_000;
    return {
      enabled: true,
      description,
      async shutdown() {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), flushTimeoutMs);
          timer.unref();
        });
        try {
          const outcome = await Promise.race([provider.shutdown().then(() => "done" as const), timedOut]);
          if (outcome === "timeout") {
            logger.warn(`pending spans were not exported within ${flushTimeoutMs} ms of shutdown and are dropped`, { destination: description });
          }
        } catch (error) {
          logger.warn("flushing spans failed", { destination: description, error: error instanceof Error ? error.message : String(error) });
        } finally {
          clearTimeout(timer);
        }
      },
    };
  } catch (error) {
    logger.warn("tracing is misconfigured and stays off", { error: error instanceof Error ? error.message : String(error) });
    return OFF;
  }
}

/**
 * The URL spans are sent to, as the OTLP exporters derive it: the traces
 * endpoint as given, or the base endpoint plus `/v1/traces` over HTTP.
 */
function exportUrl(env: Readonly<Record<string, string | undefined>>, protocol: string): string | undefined {
  const traces = read(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (traces !== undefined) return traces;
  const base = read(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (base === undefined || protocol === "grpc") return base;
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

/** The process detector's attributes without the command line, which may carry credentials. */
function withoutCommandLine(processDetector: ResourceDetector): ResourceDetector {
  return {
    detect(config) {
      const detected = processDetector.detect(config);
      const attributes = { ...detected.attributes };
      delete attributes["process.command_args"];
      delete attributes["process.command_line"];
      return { ...detected, attributes };
    },
  };
}

/** `OTEL_BSP_*` from `env` (the processor itself reads only process.env). */
function batchConfig(env: Readonly<Record<string, string | undefined>>): BufferConfig {
  const config: { -readonly [K in keyof BufferConfig]: BufferConfig[K] } = {};
  const set = (key: keyof BufferConfig, name: string): void => {
    const value = Number(read(env, name));
    if (Number.isFinite(value) && value >= 0) config[key] = value;
  };
  set("scheduledDelayMillis", "OTEL_BSP_SCHEDULE_DELAY");
  set("exportTimeoutMillis", "OTEL_BSP_EXPORT_TIMEOUT");
  set("maxQueueSize", "OTEL_BSP_MAX_QUEUE_SIZE");
  set("maxExportBatchSize", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  return config;
}
