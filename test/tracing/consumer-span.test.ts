/**
 * Consumer span options, with the OpenTelemetry SDK registered in this
 * process and an in-memory exporter: `consumerSpan: "link"` starts a new
 * trace linked to the producer; the iterator form gets the same span and
 * correlation through `subscription.handle`.
 */
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, waitFor, type TestServer } from "../support/test-server.js";

describe("consumer spans", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let t: TestServer;
  beforeAll(async () => {
    provider.register();
    t = await startTestServer({ store: "memory" });
  });
  afterAll(async () => {
    await t.close();
    await provider.shutdown();
  });

  const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
  const parentId = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

  it("links instead of parenting when asked", async () => {
    const linked = t.client.subscribe("link.job.created", () => undefined, { consumerSpan: "link" });
    await linked.opened();
    try {
      const published = await t.client.publish({ type: "link.job.created", data: {} });
      await waitFor(() => spans("process link.job.created").length === 1, 10_000, "the consumer span");
      const send = spans("send link.job.created")[0] as ReadableSpan;
      const process = spans("process link.job.created")[0] as ReadableSpan;
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(process.kind).toBe(SpanKind.CONSUMER);
      expect(parentId(process)).toBeUndefined();
      expect(process.spanContext().traceId).not.toBe(send.spanContext().traceId);
      expect(process.links.map((l) => l.context.spanId)).toEqual([send.spanContext().spanId]);
      expect(process.attributes["messaging.message.id"]).toBe(published.id);
      // The server's span still continues the producer's trace.
      const accept = spans("publish link.job.created")[0] as ReadableSpan;
      expect(accept.kind).toBe(SpanKind.SERVER);
      expect(parentId(accept)).toBe(send.spanContext().spanId);
      expect(spans("validate").some((s) => parentId(s) === accept.spanContext().spanId)).toBe(true);
    } finally {
      linked.close();
    }
  });

  it("gives the iterator form the same span and correlation through subscription.handle", async () => {
    const subscription = t.client.subscribe("iter.job.created");
    await subscription.opened();
    const published = await t.client.publish({ type: "iter.job.created", correlationId: "iter-flow", data: {} });
    let followId = "";
    for await (const event of subscription) {
      followId = (await subscription.handle(event, () => t.client.publish({ type: "iter.job.done", data: {} }))).id;
      break;
    }
    const follow = await t.client.getEvent(followId);
    expect(follow).toMatchObject({ correlationId: "iter-flow", causationId: published.id });
    const process = spans("process iter.job.created")[0] as ReadableSpan;
    const send = spans("send iter.job.done")[0] as ReadableSpan;
    expect(parentId(process)).toBe((spans("send iter.job.created")[0] as ReadableSpan).spanContext().spanId);
    expect(parentId(send)).toBe(process.spanContext().spanId);
    expect(follow.traceparent).toBe(`00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`);
  });
});
