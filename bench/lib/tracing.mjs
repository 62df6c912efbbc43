// Turns OpenTelemetry tracing on in a benchmark process, the way an
// operator would: the standard OTEL_* variables and the server package's
// startTracing helper.

/**
 * Starts exporting this process's spans over OTLP/HTTP to `endpoint`;
 * `options` go to startTracing (the server role passes
 * `contextManager: false`, as `protobus serve` does).
 */
export async function startTracingTo(endpoint, serviceName, options = {}) {
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  process.env.OTEL_SERVICE_NAME = serviceName;
  // Record and export every span, not a sample of them.
  process.env.OTEL_TRACES_SAMPLER = "always_on";
  const server = await import("@protobus/server");
  if (typeof server.startTracing !== "function") throw Object.assign(new Error("this build has no tracing"), { unavailable: true });
  return server.startTracing(options);
}
