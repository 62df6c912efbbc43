/**
 * A failure is written the same way onto every span that records one: the
 * SDK's consumer and producer spans, and the helper the server's publish
 * spans use. The exception becomes an event of the span, the status ERROR
 * with the error's message (a thrown non-Error is recorded as its string).
 */
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { publishWithSpan, recordSpanError, runHandler } from "@protobus/sdk/internal";
import { Event } from "@protobus/sdk/proto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

describe("span errors", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
  });
  beforeEach(() => exporter.reset());

  const only = (): ReadableSpan => {
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    return spans[0] as ReadableSpan;
  };
  const event = Event.fromPartial({ id: "e-1", type: "agent.task.failed", source: "test/span-error" });

  it("records an Error as an exception event and an ERROR status with its message", () => {
    const span = trace.getTracer("test").startSpan("work");
    recordSpanError(span, new RangeError("out of range"));
    span.end();
    const ended = only();
    expect(ended.status).toEqual({ code: SpanStatusCode.ERROR, message: "out of range" });
    expect(ended.events.map((e) => [e.name, e.attributes?.["exception.type"], e.attributes?.["exception.message"]])).toEqual([["exception", "RangeError", "out of range"]]);
  });

  it("records anything else as its string", () => {
    const span = trace.getTracer("test").startSpan("work");
    recordSpanError(span, 42);
    span.end();
    const ended = only();
    expect(ended.status).toEqual({ code: SpanStatusCode.ERROR, message: "42" });
    expect(ended.events.map((e) => [e.name, e.attributes?.["exception.message"]])).toEqual([["exception", "42"]]);
  });

  it("marks a consumer span whose handler throws, and rethrows", async () => {
    const info = { attempt: 1, group: "", subscriptionId: "", relation: "child" } as const;
    await expect(
      runHandler(event, info, () => {
        throw new Error("handler broke");
      }),
    ).rejects.toThrow("handler broke");
    const ended = only();
    expect(ended.name).toBe("process agent.task.failed");
    expect(ended.status).toEqual({ code: SpanStatusCode.ERROR, message: "handler broke" });
    expect(ended.events.map((e) => e.name)).toEqual(["exception"]);
  });

  it("marks a producer span whose publish fails, and rethrows", async () => {
    await expect(publishWithSpan([event], () => Promise.reject(new Error("publish refused")))).rejects.toThrow("publish refused");
    const ended = only();
    expect(ended.name).toBe("send agent.task.failed");
    expect(ended.status).toEqual({ code: SpanStatusCode.ERROR, message: "publish refused" });
    expect(ended.events.map((e) => e.name)).toEqual(["exception"]);
  });
});
