/**
 * Tracing and correlation through the typed API, with the OpenTelemetry SDK
 * registered in this process and an in-memory exporter: a typed publish is a
 * PRODUCER span whose context travels in the envelope; the typed handler
 * runs in a CONSUMER span parented to it; a typed publish inside the handler
 * continues the trace and the flow; typed batches go out as one call, under
 * one send span.
 */
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient } from "@protobus/sdk";
import { examplesAgentsV1Events, type ExamplesAgentsV1Events } from "../../examples/agents/src/gen/examples/agents/v1/events_protobus.js";
import { TaskProgress, TaskStarted } from "../../examples/agents/src/gen/examples/agents/v1/task_protobus.js";
import { startTestServer, waitFor, type TestServer } from "../support/test-server.js";

describe("typed clients and tracing", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let t: TestServer;
  let client: ProtobusClient<ExamplesAgentsV1Events>;
  beforeAll(async () => {
    provider.register();
    t = await startTestServer({ store: "memory" });
    client = createClient({ address: t.address, source: "typed-tracing", events: examplesAgentsV1Events });
  });
  afterAll(async () => {
    await client.close();
    await t.close();
    await provider.shutdown();
  });

  const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
  const parentId = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

  it("a typed publish, its typed handling and the handler's typed publish form one trace and one flow", async () => {
    const sub = client.subscribe("agent.task.started", async (event) => {
      await client.publish(TaskProgress, { taskId: event.payload.taskId, percent: 1, note: "traced" });
    });
    await sub.opened();
    try {
      const started = await client.publish(TaskStarted, { taskId: "traced-1", agentId: "a" });
      await waitFor(() => spans("send agent.task.progress").length === 1, 10_000, "the handler's publish span");
      const send = spans("send agent.task.started")[0] as ReadableSpan;
      const process = spans("process agent.task.started")[0] as ReadableSpan;
      const inner = spans("send agent.task.progress")[0] as ReadableSpan;
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(process.kind).toBe(SpanKind.CONSUMER);
      expect(parentId(process)).toBe(send.spanContext().spanId);
      expect(parentId(inner)).toBe(process.spanContext().spanId);
      expect(inner.spanContext().traceId).toBe(send.spanContext().traceId);

      const startedEvent = await client.getEvent(started.id);
      expect(startedEvent.traceparent).toContain(send.spanContext().traceId);
      const progress = (await client.query({ correlationId: startedEvent.correlationId })).events.find((e) => e.type === "agent.task.progress");
      expect(progress?.causationId).toBe(started.id);
      expect(send.attributes["messaging.message.conversation_id"]).toBe(startedEvent.correlationId);
    } finally {
      sub.close();
    }
  });

  it("publishes a typed batch (definition.event) all-or-nothing in one call, under one send span whose context every event carries", async () => {
    const results = await client.publish([
      TaskStarted.event({ taskId: "batch-1", agentId: "a" }),
      TaskProgress.event({ taskId: "batch-1", percent: 50, note: "half" }, { priority: 0 }),
    ]);
    expect(results).toHaveLength(2);
    const [a, b] = await Promise.all(results.map((r) => client.getEvent(r.id)));
    expect(a?.correlationId).toBe(b?.correlationId);
    expect(b?.priority).toBe(0);
    expect(TaskProgress.decode(b?.data ?? new Uint8Array()).percent).toBe(50);
    // One PRODUCER span for the call (two types: named `send`), its context in both envelopes.
    const batchSpans = spans("send").filter((s) => s.attributes["messaging.batch.message_count"] === 2);
    expect(batchSpans).toHaveLength(1);
    const span = batchSpans[0] as ReadableSpan;
    expect(span.kind).toBe(SpanKind.PRODUCER);
    expect(span.attributes["messaging.message.conversation_id"]).toBe(a?.correlationId);
    for (const event of [a, b]) expect(event?.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
    // The server continues it with one publish span for the call.
    await waitFor(() => spans("publish").some((s) => parentId(s) === span.spanContext().spanId), 10_000, "the server's publish span");
    expect(spans("publish").filter((s) => parentId(s) === span.spanContext().spanId)).toHaveLength(1);
  });
});
