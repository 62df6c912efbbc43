/**
 * A span exporter that says when spans cannot be exported. OpenTelemetry's
 * exporters report a failed export only to their callback, which the batch
 * span processor drops: an unreachable or misconfigured collector was
 * silent. This wrapper logs the first failure at once, with the endpoint
 * and the reason, then at most one line per interval counting what failed
 * meanwhile, and one line when exports succeed again.
 */
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "../logger.js";

/** Options of {@link ReportingSpanExporter}. */
export interface ReportingSpanExporterOptions {
  /** Where spans go, as logged: `http/protobuf http://collector:4318/v1/traces`. */
  readonly destination: string;
  /** Where failures are logged. */
  readonly logger: Pick<Logger, "warn" | "info">;
  /** Least time between two failure lines, in ms; 30 s by default. */
  readonly intervalMs?: number;
}

/** Wraps an exporter and logs its failures, rate-limited. */
export class ReportingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #options: ReportingSpanExporterOptions;
  readonly #intervalMs: number;
  #lastReport = Number.NEGATIVE_INFINITY;
  #failing = false;
  #failedExports = 0;
  #droppedSpans = 0;

  constructor(inner: SpanExporter, options: ReportingSpanExporterOptions) {
    this.#inner = inner;
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? 30_000;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      try {
        if (result.code === ExportResultCode.SUCCESS) this.#succeeded();
        else this.#failed(spans.length, result.error);
      } finally {
        resultCallback(result);
      }
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }

  #failed(spans: number, error: Error | undefined): void {
    this.#failing = true;
    this.#failedExports += 1;
    this.#droppedSpans += spans;
    const now = Date.now();
    if (now - this.#lastReport < this.#intervalMs) return;
    this.#lastReport = now;
    this.#options.logger.warn("span export failed; spans are dropped until the collector answers", {
      destination: this.#options.destination,
      error: describe(error),
      failedExports: this.#failedExports,
      droppedSpans: this.#droppedSpans,
    });
    this.#failedExports = 0;
    this.#droppedSpans = 0;
  }

  #succeeded(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#options.logger.info("span export works again", { destination: this.#options.destination, droppedSpansSinceLastReport: this.#droppedSpans });
    this.#failedExports = 0;
    this.#droppedSpans = 0;
    this.#lastReport = Number.NEGATIVE_INFINITY;
  }
}

function describe(error: Error | undefined): string {
  if (error === undefined) return "unknown error";
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as { code?: unknown }).code;
  const parts = [error.message];
  if (typeof code === "string" || typeof code === "number") parts.push(`code ${code}`);
  if (cause instanceof Error && cause.message !== error.message) parts.push(cause.message);
  return parts.join(": ");
}
