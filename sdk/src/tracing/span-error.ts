/**
 * How a failure is written onto a span, the same for the SDK's spans and the
 * server's: the exception recorded as an event, the status ERROR with its
 * message.
 */
import { SpanStatusCode, type Span } from "@opentelemetry/api";

/** Marks `span` as failed by `error` (an `Error`, or anything, recorded as its string). */
export function recordSpanError(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
