/**
 * The SDK's tracer. The SDK depends only on @opentelemetry/api: spans are
 * recorded when the application registered an OpenTelemetry SDK (a tracer
 * provider), and cost nothing per event when it did not.
 *
 * The registered provider is looked up on each use, not once at import, so
 * a provider registered later is picked up, and so is one registered through
 * another copy of @opentelemetry/api (the API shares its globals between
 * compatible copies, but not its classes).
 */
import { ProxyTracerProvider, trace, type Tracer, type TracerProvider } from "@opentelemetry/api";

/** Instrumentation scope name of SDK spans. */
export const TRACER_NAME = "@protobus/sdk";
/** Instrumentation scope version of SDK spans. */
export const TRACER_VERSION = "0.1.0";

/** This copy's no-op provider: a proxy with no delegate answers with it. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

function isNoop(provider: TracerProvider): boolean {
  return provider === NOOP_PROVIDER || provider.constructor.name === "NoopTracerProvider";
}

/** The provider spans go to: the delegate of the global proxy, or the global provider itself. */
function registeredProvider(): TracerProvider {
  const provider = trace.getTracerProvider() as TracerProvider & { getDelegate?: () => TracerProvider };
  return typeof provider.getDelegate === "function" ? provider.getDelegate() : provider;
}

/**
 * Returns a function giving the tracer of `name` from the registered
 * provider, or undefined when no provider is registered. The tracer is
 * cached until the registered provider changes.
 */
export function tracerSource(name: string, version: string): () => Tracer | undefined {
  let cachedProvider: TracerProvider | undefined;
  let cachedTracer: Tracer | undefined;
  return () => {
    const provider = registeredProvider();
    if (provider !== cachedProvider) {
      cachedProvider = provider;
      cachedTracer = isNoop(provider) ? undefined : provider.getTracer(name, version);
    }
    return cachedTracer;
  };
}

/** The SDK tracer, or undefined when tracing is off. */
export const activeTracer = tracerSource(TRACER_NAME, TRACER_VERSION);

/** True when a tracer provider is registered, so spans would be recorded. */
export function tracingActive(): boolean {
  return activeTracer() !== undefined;
}
