/**
 * Trace export from the standard OpenTelemetry environment variables. Off
 * unless an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_TRACES_EXPORTER=otlp`);
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off.
 *
 * - protocol: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`,
 *   `http/protobuf` (default), `http/json` or `grpc`;
 * - service name: `OTEL_SERVICE_NAME` (default `protobus`), plus
 *   `OTEL_RESOURCE_ATTRIBUTES`;
 * - sampler: `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`
 *   (default parentbased_always_on);
 * - batching: `OTEL_BSP_*`.
 *
 * A misconfiguration is logged and leaves tracing off; it never stops the
 * server or fails a publish.
 */
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import type { Logger } from "../logger.js";

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
  /** Where problems are reported. */
  readonly logger?: Pick<Logger, "warn" | "info">;
}

const OFF: TracingHandle = { enabled: false, description: "", shutdown: () => Promise.resolve() };

/** Reads an env value, treating empty as unset. */
function read(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Starts exporting traces when the environment asks for it, registering a
 * global tracer provider, the W3C trace-context propagator and an
 * AsyncLocalStorage context manager. Spans are exported by a batch span
 * processor, off the publish path.
 */
export async function startTracing(options: StartTracingOptions = {}): Promise<TracingHandle> {
  const env = options.env ?? process.env;
  const logger = options.logger;
  try {
    if (read(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") return OFF;
    const exporterKind = read(env, "OTEL_TRACES_EXPORTER")?.toLowerCase();
    if (exporterKind === "none") return OFF;
    const endpoint = read(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ?? read(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
    if (endpoint === undefined && exporterKind !== "otlp") return OFF;
    if (exporterKind !== undefined && exporterKind !== "otlp") {
      logger?.warn(`OTEL_TRACES_EXPORTER=${exporterKind} is not supported (only otlp and none); tracing stays off`);
      return OFF;
    }
    const protocol = read(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? read(env, "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf";
    let exporter: SpanExporter;
    if (protocol === "grpc") {
      const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-grpc");
      exporter = new OTLPTraceExporter();
    } else if (protocol === "http/json") {
      const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
      exporter = new OTLPTraceExporter();
    } else {
      if (protocol !== "http/protobuf") logger?.warn(`OTLP protocol '${protocol}' is not supported; exporting with http/protobuf`);
      const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
      exporter = new OTLPTraceExporter();
    }
    const serviceName = read(env, "OTEL_SERVICE_NAME") ?? options.defaultServiceName ?? "protobus";
    const resource = resourceFromAttributes({ "service.name": serviceName }).merge(detectResources({ detectors: [envDetector] }));
    const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
    provider.register();
    const used = protocol === "grpc" || protocol === "http/json" ? protocol : "http/protobuf";
    const description = `${used} ${endpoint ?? "(exporter default endpoint)"}`;
    logger?.info("tracing on", { export: description, service: serviceName });
    return {
      enabled: true,
      description,
      async shutdown() {
        try {
          await provider.shutdown();
        } catch (error) {
          logger?.warn("flushing spans failed", { error: error instanceof Error ? error.message : String(error) });
        }
      },
    };
  } catch (error) {
    logger?.warn("tracing is misconfigured and stays off", { error: error instanceof Error ? error.message : String(error) });
    return OFF;
  }
}
