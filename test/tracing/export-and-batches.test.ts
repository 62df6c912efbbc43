/**
 * What tracing tells and records beyond the happy path: a collector that
 * cannot be reached is logged with its endpoint and does not hold up
 * shutdown; a batch gets one span per trace context its events carry (an
 * SDK batch one send span and one publish span), and every event's trace
 * still runs from producer through server to consumer; no attribute is
 * sent empty; the resource names the service version, host and process; a
 * malformed `traceparent` is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, createClient } from "@protobus/sdk";
import { Event } from "@protobus/sdk/proto";
import { startTracing } from "@protobus/server";
import { freePort } from "../support/free-port.js";
import { spawnServer, startTestServer, waitFor, type TestServer } from "../support/test-server.js";
import { OtlpSpanKind, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";

const T1 = "0af7651916cd43dd8448eb211c80319c";
const T2 = "4bf92f3577b34da6a3ce929d0e0e4736";

function rawPublish(t: TestServer, events: Partial<Event>[]): Promise<{ results: { id: string }[] }> {
  return new Promise((resolve, reject) => {
    t.client.raw.publish({ events: events.map((e) => Event.fromPartial(e)) }, (error, response) => (error ? reject(error) : resolve(response as { results: { id: string }[] })));
  });
}

describe("tracing: export failures and shutdown", () => {
  it("logs an unreachable collector with its endpoint, and shuts down within the flush timeout", async () => {
    const closedPort = await freePort();
    const server = await spawnServer(["--store", "memory"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort}`,
      OTEL_BSP_SCHEDULE_DELAY: "10",
      OTEL_EXPORTER_OTLP_TIMEOUT: "1000",
      OTEL_SERVICE_NAME: "",
    });
    const client = createClient({ address: server.address, source: "test" });
    try {
      for (let i = 0; i < 3; i++) await client.publish({ type: "demo.task.created", data: { i } });
      await waitFor(() => server.output().includes("span export failed"), 20_000, "the export failure to be logged");
      const line = server.output().split("\n").find((l) => l.includes("span export failed")) ?? "";
      expect(line).toContain(`destination="http/protobuf http://127.0.0.1:${closedPort}/v1/traces"`);
      expect(line).toMatch(/error=\S+/);
      // Rate-limited: one line for every failure of the interval.
      for (let i = 0; i < 3; i++) await client.publish({ type: "demo.task.created", data: { i } });
      await new Promise((r) => setTimeout(r, 500));
      expect(server.output().split("span export failed").length - 1).toBe(1);
    } finally {
      await client.close();
    }
    // A publish just before the signal leaves spans pending for the dead collector.
    const late = createClient({ address: server.address, source: "test" });
    await late.publish({ type: "demo.task.created", data: {} });
    await late.close();
    const stopping = Date.now();
    expect(await server.stop("SIGTERM")).toBe(0);
    // Shutdown: the server's own grace, then at most 1 s for spans (it took 9 s).
    expect(Date.now() - stopping).toBeLessThan(5_000);
  });
});

describe("tracing: batches, attributes and resource", () => {
  let receiver: OtlpReceiver;
  let t: TestServer;
  let tracing: Awaited<ReturnType<typeof startTracing>>;
  const received = (predicate: (s: ReceivedSpan) => boolean) => receiver.spans.filter(predicate);

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracing = await startTracing({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "10", OTEL_SERVICE_NAME: "batch-test" },
      serviceVersion: "1.2.3",
    });
    t = await startTestServer({ store: "memory" });
  });
  afterAll(async () => {
    await t.close();
    await tracing.shutdown();
    await receiver.close();
  });

  it("gives a batch one publish span per distinct trace context of its events, each with validate and store under it", async () => {
    const { results } = await rawPublish(t, [
      { source: "raw", type: "batch.one.created", traceparent: `00-${T1}-b7ad6b7169203331-01`, correlationId: "c-1" },
      { source: "raw", type: "batch.two.created", traceparent: `00-${T2}-00f067aa0ba902b7-01` },
      { source: "raw", type: "batch.three.created" },
      { source: "raw", type: "batch.one.created", traceparent: `00-${T1}-b7ad6b7169203331-01`, correlationId: "c-1" },
    ]);
    const publishes = () => received((s) => s.name.startsWith("publish batch."));
    await waitFor(() => publishes().length >= 3 && received((s) => s.name === "store").length >= 3, 10_000, "spans");
    // The two events of T1's context share one span; the others get one each.
    expect(publishes()).toHaveLength(3);
    const one = received((s) => s.name === "publish batch.one.created")[0] as ReceivedSpan;
    const two = received((s) => s.name === "publish batch.two.created")[0] as ReceivedSpan;
    const three = received((s) => s.name === "publish batch.three.created")[0] as ReceivedSpan;
    expect(one).toMatchObject({ kind: OtlpSpanKind.SERVER, traceId: T1, parentSpanId: "b7ad6b7169203331" });
    expect(two).toMatchObject({ kind: OtlpSpanKind.SERVER, traceId: T2, parentSpanId: "00f067aa0ba902b7" });
    expect(three).toMatchObject({ kind: OtlpSpanKind.SERVER, parentSpanId: "" });
    expect([T1, T2]).not.toContain(three.traceId);
    // A span about several events carries what they share, not one event's id.
    expect(one.attributes).toMatchObject({
      "messaging.destination.name": "batch.one.created",
      "messaging.message.conversation_id": "c-1",
      "messaging.batch.message_count": 4,
    });
    expect(one.attributes).not.toHaveProperty("messaging.message.id");
    // A span about one event carries its id and sequence.
    expect(two.attributes).toMatchObject({ "messaging.message.id": results[1]?.id, "messaging.batch.message_count": 4 });
    expect(two.attributes["messaging.protobus.message.sequence"]).toBeGreaterThan(0);
    // Without a correlation id the attribute is left out, not sent empty.
    expect(two.attributes).not.toHaveProperty("messaging.message.conversation_id");
    expect(three.attributes).not.toHaveProperty("messaging.message.conversation_id");
    for (const span of [one, two, three]) {
      for (const step of ["validate", "store"]) {
        expect(received((s) => s.name === step && s.parentSpanId === span.spanId && s.traceId === span.traceId), `${step} of ${span.name}`).toHaveLength(1);
      }
      for (const [key, value] of Object.entries(span.attributes)) expect(value, key).not.toBe("");
    }
  });

  it("traces an SDK batch as one PRODUCER span whose context every event carries, one publish span, and each event's consumer in that trace", async () => {
    const size = 50;
    const handled = new Map<string, string>();
    const sub = t.client.subscribe("sdk.batch.created", (event) => {
      handled.set(event.id, event.traceparent);
    });
    await sub.opened();
    try {
      const results = await t.client.publish(Array.from({ length: size }, (_, n) => ({ type: "sdk.batch.created", correlationId: "sdk-batch", data: { n } })));
      await waitFor(
        () =>
          received((s) => s.name === "process sdk.batch.created").length === size &&
          received((s) => s.name === "publish sdk.batch.created").length === 1 &&
          received((s) => s.name === "send sdk.batch.created").length === 1,
        10_000,
        "spans",
      );
      const sends = received((s) => s.name === "send sdk.batch.created");
      expect(sends).toHaveLength(1);
      const send = sends[0] as ReceivedSpan;
      expect(send).toMatchObject({ kind: OtlpSpanKind.PRODUCER, parentSpanId: "" });
      expect(send.attributes).toMatchObject({
        "messaging.operation.type": "send",
        "messaging.destination.name": "sdk.batch.created",
        "messaging.message.conversation_id": "sdk-batch",
        "messaging.batch.message_count": size,
      });
      expect(send.attributes).not.toHaveProperty("messaging.message.id");
      const traceparent = `00-${send.traceId}-${send.spanId}-01`;
      // The server: one span for the call, continuing the send span, with one validate and one store.
      const accept = received((s) => s.name === "publish sdk.batch.created")[0] as ReceivedSpan;
      expect(accept).toMatchObject({ kind: OtlpSpanKind.SERVER, traceId: send.traceId, parentSpanId: send.spanId });
      expect(accept.attributes).toMatchObject({ "messaging.batch.message_count": size, "messaging.destination.name": "sdk.batch.created" });
      for (const step of ["validate", "store"]) {
        expect(received((s) => s.name === step && s.parentSpanId === accept.spanId), step).toHaveLength(1);
      }
      // Every event: stored and delivered with the send span's context, handled in a CONSUMER span of that trace.
      const processes = received((s) => s.name === "process sdk.batch.created");
      for (const [i, result] of results.entries()) {
        expect((await t.client.getEvent(result.id)).traceparent, `stored event ${i}`).toBe(traceparent);
        expect(handled.get(result.id), `delivered event ${i}`).toBe(traceparent);
        const process = processes.filter((s) => s.attributes["messaging.message.id"] === result.id);
        expect(process, `process span of event ${i}`).toHaveLength(1);
        expect(process[0]).toMatchObject({ kind: OtlpSpanKind.CONSUMER, traceId: send.traceId, parentSpanId: send.spanId });
      }
    } finally {
      sub.close();
    }
  });

  it("keeps the trace context an event of an SDK batch already carries, links the send span to it, and continues it on the server", async () => {
    const own = `00-${T2}-b7ad6b7169203331-01`;
    const results = await t.client.publish([
      { type: "sdk.carried.created", data: { n: 1 }, traceparent: own },
      { type: "sdk.carried.created", data: { n: 2 } },
    ]);
    await waitFor(
      () => received((s) => s.name === "publish sdk.carried.created").length === 2 && received((s) => s.name === "send sdk.carried.created").length === 1,
      10_000,
      "send and publish spans",
    );
    const send = received((s) => s.name === "send sdk.carried.created")[0] as ReceivedSpan;
    expect(send.kind).toBe(OtlpSpanKind.PRODUCER);
    expect(send.links).toEqual([{ traceId: T2, spanId: "b7ad6b7169203331" }]);
    const [carried, fresh] = await Promise.all(results.map((r) => t.client.getEvent(r.id)));
    expect(carried?.traceparent).toBe(own);
    expect(fresh?.traceparent).toBe(`00-${send.traceId}-${send.spanId}-01`);
    const accepts = received((s) => s.name === "publish sdk.carried.created");
    expect(accepts.find((s) => s.traceId === T2)).toMatchObject({ parentSpanId: "b7ad6b7169203331", attributes: { "messaging.message.id": results[0]?.id } });
    expect(accepts.find((s) => s.traceId === send.traceId)).toMatchObject({ parentSpanId: send.spanId, attributes: { "messaging.message.id": results[1]?.id } });
  });

  it("describes the service, host and process in the resource, without the command line", async () => {
    await waitFor(() => receiver.spans.length > 0, 10_000, "any span");
    const resource = (receiver.spans[0] as ReceivedSpan).resource;
    expect(resource).toMatchObject({ "service.name": "batch-test", "service.version": "1.2.3", "process.pid": process.pid, "process.runtime.name": "nodejs" });
    expect(resource["host.name"]).toBeTruthy();
    expect(resource["host.arch"]).toBeTruthy();
    expect(resource["os.type"]).toBeTruthy();
    expect(resource).not.toHaveProperty("process.command_args");
    expect(resource).not.toHaveProperty("process.command_line");
  });
});

describe("envelope trace context", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
  });
  afterAll(() => t.close());

  it("refuses a malformed traceparent with INVALID_ARGUMENT naming the field, and stores nothing of the batch", async () => {
    for (const [traceparent, why] of [
      ["not-a-traceparent", /is not a W3C traceparent/],
      [`00-${T1}-b7ad6b7169203331-01-extra`, /version 00 has exactly four fields/],
      [`00-${"0".repeat(32)}-b7ad6b7169203331-01`, /trace id must not be all zeros/],
      [`00-${T1}-${"0".repeat(16)}-01`, /parent id must not be all zeros/],
      [`ff-${T1}-b7ad6b7169203331-01`, /version ff/],
      ["x".repeat(10_000), /10000 characters/],
    ] as const) {
      // A plain gRPC call: the SDK, when tracing, writes its own span's context instead.
      const error = await rawPublish(t, [
        { source: "raw", type: "trace.ok.created" },
        { source: "raw", type: "trace.bad.created", traceparent },
      ]).then(
        () => undefined,
        (e: unknown) => ProtobusError.from(e),
      );
      expect(error, traceparent.slice(0, 40)).toBeInstanceOf(ProtobusError);
      expect((error as ProtobusError).code).toBe(Code.INVALID_ARGUMENT);
      const violation = (error as ProtobusError).fieldViolations[0];
      expect(violation?.field).toBe("events[1].traceparent");
      expect(violation?.description).toMatch(why);
    }
    // A later version's extra fields are allowed (W3C: parse the first four).
    await rawPublish(t, [{ source: "raw", type: "trace.ok.created", traceparent: `01-${T1}-b7ad6b7169203331-01-future` }]);
    const page = await t.client.query({ patterns: ["trace.>"] });
    expect(page.events.map((e) => e.type)).toEqual(["trace.ok.created"]);
  });
});
