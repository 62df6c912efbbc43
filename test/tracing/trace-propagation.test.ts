/**
 * One trace per causal flow, across processes: a publisher, the protobus
 * server, a worker that handles the event and publishes a follow-up, and an
 * auditor that handles both; every process exports OTLP/HTTP protobuf to a
 * real receiver in this test, configured only by the standard OTEL_*
 * variables.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CLI, createClient, spawnServer, startTestServer, waitFor, type ServerProcess } from "../support/test-server.js";
import { OtlpSpanKind, startOtlpGrpcReceiver, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";
import { startTracing } from "@protobus/server";

const PARTICIPANT = fileURLToPath(new URL("./fixtures/participant.mjs", import.meta.url));

interface Participant {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  output(): string;
}

function participant(service: string, env: Record<string, string>, ...args: string[]): Participant {
  const child = spawn(process.execPath, [PARTICIPANT, ...args], {
    env: { ...process.env, PROTOBUS_TEST_GROUP: "", ...env, OTEL_SERVICE_NAME: service },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    const parts = stdout.split("\n");
    stdout = parts.pop() ?? "";
    lines.push(...parts);
  });
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, lines, exited, output: () => `${lines.join("\n")}\n${stdout}\n${stderr}` };
}

describe("tracing across processes", () => {
  let receiver: OtlpReceiver;
  let server: ServerProcess | undefined;
  const children: Participant[] = [];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    for (const p of children) p.child.kill("SIGKILL");
    await server?.stop("SIGKILL");
    await receiver.close();
  });

  it("shares one trace id across publisher, server and both consumers, with parent/child links and messaging attributes", async () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_TRACES_SAMPLER: "always_on",
      OTEL_BSP_SCHEDULE_DELAY: "50",
    };
    server = await spawnServer(["--store", "memory"], { ...env, OTEL_SERVICE_NAME: "protobus-server" });
    const worker = participant("worker", env, "react", server.address, "demo.task.created", "1", "demo.task.completed");
    // The auditor is a consumer group member.
    const auditor = participant("auditor", { ...env, PROTOBUS_TEST_GROUP: "auditors" }, "watch", server.address, "demo.task.>", "2");
    children.push(worker, auditor);
    await waitFor(() => worker.lines.includes("ready") && auditor.lines.includes("ready"), 20_000, "consumers ready");

    const publisher = participant("publisher", env, "publish", server.address, "demo.task.created", "flow-trace-1");
    children.push(publisher);
    expect(await publisher.exited, publisher.output()).toBe(0);
    const published = JSON.parse(publisher.lines[0] as string) as { id: string };
    expect(await worker.exited, worker.output()).toBe(0);
    expect(await auditor.exited, auditor.output()).toBe(0);
    const handledByWorker = JSON.parse(worker.lines[1] as string) as { id: string; followId: string; correlationId: string };
    expect(handledByWorker).toMatchObject({ id: published.id, correlationId: "flow-trace-1" });
    // Stopping the server flushes its spans.
    expect(await server.stop("SIGTERM")).toBe(0);
    server = undefined;

    const find = (service: string, name: string): ReceivedSpan | undefined =>
      receiver.spans.find((s) => s.service === service && s.name === name);
    const expected: [string, string][] = [
      ["publisher", "send demo.task.created"],
      ["protobus-server", "publish demo.task.created"],
      ["protobus-server", "publish demo.task.completed"],
      ["worker", "process demo.task.created"],
      ["worker", "send demo.task.completed"],
      ["auditor", "process demo.task.created"],
      ["auditor", "process demo.task.completed"],
    ];
    await waitFor(() => expected.every(([service, name]) => find(service, name) !== undefined), 10_000, "all spans exported").catch((error: unknown) => {
      throw new Error(`${String(error)} ${server?.output() ?? ""} ${worker.output()} ${publisher.output()} (got ${JSON.stringify(receiver.spans.map((s) => `${s.service}: ${s.name}`))}, errors ${JSON.stringify(receiver.errors)})`);
    });
    expect(receiver.errors).toEqual([]);
    const span = (service: string, name: string): ReceivedSpan => find(service, name) as ReceivedSpan;

    const send = span("publisher", "send demo.task.created");
    const traceId = send.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(receiver.spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    expect(new Set(receiver.spans.map((s) => s.service))).toEqual(new Set(["publisher", "protobus-server", "worker", "auditor"]));

    // The producer starts the trace.
    expect(send.parentSpanId).toBe("");
    expect(send.kind).toBe(OtlpSpanKind.PRODUCER);
    expect(send.attributes).toMatchObject({
      "messaging.system": "protobus",
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.destination.name": "demo.task.created",
      "messaging.message.id": published.id,
      "messaging.message.conversation_id": "flow-trace-1",
    });
    expect(send.attributes["messaging.message.body.size"]).toBeGreaterThan(0);

    // The server continues it, with validate and store steps.
    const accept = span("protobus-server", "publish demo.task.created");
    expect(accept.kind).toBe(OtlpSpanKind.SERVER);
    expect(accept.parentSpanId).toBe(send.spanId);
    expect(accept.attributes).toMatchObject({ "messaging.system": "protobus", "messaging.destination.name": "demo.task.created" });
    for (const step of ["validate", "store"]) {
      expect(receiver.spans.filter((s) => s.name === step && s.parentSpanId === accept.spanId)).toHaveLength(1);
    }

    // Each consumer's process span is a child of the producer span.
    for (const service of ["worker", "auditor"]) {
      const process = span(service, "process demo.task.created");
      expect(process.kind).toBe(OtlpSpanKind.CONSUMER);
      expect(process.parentSpanId).toBe(send.spanId);
      expect(process.attributes).toMatchObject({
        "messaging.system": "protobus",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "demo.task.created",
        "messaging.message.id": published.id,
        "messaging.message.conversation_id": "flow-trace-1",
        "messaging.protobus.message.delivery_attempt": 1,
      });
      expect(process.attributes["messaging.message.body.size"]).toBe(send.attributes["messaging.message.body.size"]);
    }
    expect(span("auditor", "process demo.task.created").attributes["messaging.consumer.group.name"]).toBe("auditors");
    expect(span("worker", "process demo.task.created").attributes["messaging.consumer.group.name"]).toBeUndefined();

    // The follow-up is sent from inside the worker's handling, and inherits the flow.
    const followSend = span("worker", "send demo.task.completed");
    expect(followSend.kind).toBe(OtlpSpanKind.PRODUCER);
    expect(followSend.parentSpanId).toBe(span("worker", "process demo.task.created").spanId);
    expect(followSend.attributes).toMatchObject({
      "messaging.message.conversation_id": "flow-trace-1",
      "messaging.protobus.message.causation_id": published.id,
      "messaging.message.id": handledByWorker.followId,
    });
    expect(span("protobus-server", "publish demo.task.completed").parentSpanId).toBe(followSend.spanId);
    const auditFollow = span("auditor", "process demo.task.completed");
    expect(auditFollow.parentSpanId).toBe(followSend.spanId);
    expect(auditFollow.attributes).toMatchObject({ "messaging.message.id": handledByWorker.followId, "messaging.message.conversation_id": "flow-trace-1" });
  });

  it.each(["grpc", "http/json"])("exports with OTEL_EXPORTER_OTLP_PROTOCOL=%s, continuing the envelope's trace", async (protocol) => {
    const otherReceiver = protocol === "grpc" ? await startOtlpGrpcReceiver() : await startOtlpReceiver();
    const otherServer = await spawnServer(["--store", "memory"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: otherReceiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_SERVICE_NAME: "protobus-other",
      OTEL_BSP_SCHEDULE_DELAY: "50",
    });
    const client = createClient({ address: otherServer.address, source: "test" });
    try {
      // The URL the exporter posts to: the endpoint itself for gRPC, plus /v1/traces over HTTP.
      const url = protocol === "grpc" ? otherReceiver.endpoint : `${otherReceiver.endpoint}/v1/traces`;
      expect(otherServer.output()).toContain(`export="${protocol} ${url}"`);
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const parentSpanId = "00f067aa0ba902b7";
      await client.publish({ type: "demo.other.sent", data: {}, traceparent: `00-${traceId}-${parentSpanId}-01` });
      await waitFor(() => otherReceiver.spans.some((s) => s.name === "publish demo.other.sent"), 10_000, "the publish span");
      const accept = otherReceiver.spans.find((s) => s.name === "publish demo.other.sent") as ReceivedSpan;
      expect(accept).toMatchObject({ service: "protobus-other", traceId, parentSpanId, kind: OtlpSpanKind.SERVER });
      expect(accept.attributes).toMatchObject({ "messaging.system": "protobus", "messaging.destination.name": "demo.other.sent" });
      await waitFor(() => otherReceiver.spans.filter((s) => s.parentSpanId === accept.spanId).length === 2, 10_000, "validate and store spans");
      expect(otherReceiver.spans.filter((s) => s.parentSpanId === accept.spanId).map((s) => s.name).sort()).toEqual(["store", "validate"]);
      expect(otherReceiver.errors).toEqual([]);
    } finally {
      await client.close();
      await otherServer.stop("SIGKILL");
      await otherReceiver.close();
    }
  });

  it("traces `protobus publish` as the PRODUCER span whose context the stored event carries", async () => {
    const cliReceiver = await startOtlpReceiver();
    const t = await startTestServer({ store: "memory" });
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [CLI, "publish", "--type", "cli.demo.created", "--data", "{}", "--json", "--address", t.address],
        { env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: cliReceiver.endpoint, OTEL_SERVICE_NAME: "" } },
      );
      const { id } = JSON.parse(stdout) as { id: string };
      // The CLI flushed its spans before exiting.
      const send = cliReceiver.spans.find((s) => s.name === "send cli.demo.created");
      expect(send).toMatchObject({ service: "protobus-cli", kind: OtlpSpanKind.PRODUCER, parentSpanId: "" });
      expect(send?.attributes["messaging.message.id"]).toBe(id);
      const stored = await t.client.getEvent(id);
      expect(stored.traceparent).toBe(`00-${send?.traceId}-${send?.spanId}-01`);
    } finally {
      await t.close();
      await cliReceiver.close();
    }
  });

  it("never fails a publish when the trace exporter is unreachable or misconfigured", async () => {
    const configs: Record<string, string>[] = [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_BSP_SCHEDULE_DELAY: "10" },
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_BSP_SCHEDULE_DELAY: "10" },
      { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url at all", OTEL_TRACES_SAMPLER: "no_such_sampler" },
    ];
    for (const env of configs) {
      const bad = await spawnServer(["--store", "memory"], env);
      const client = createClient({ address: bad.address, source: "test" });
      try {
        for (let i = 0; i < 3; i++) {
          const result = await client.publish({ type: "demo.task.created", data: { i }, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
          expect(result.sequence).toBe(BigInt(i + 1));
        }
        const page = await client.query({});
        expect(page.events).toHaveLength(3);
      } finally {
        await client.close();
        await bad.stop("SIGKILL");
      }
    }
  });

  it("stays off when no OTLP endpoint is configured, or when disabled", async () => {
    for (const env of [{}, { OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, { OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }]) {
      const handle = await startTracing({ env });
      expect(handle.enabled).toBe(false);
      await handle.shutdown();
    }
  });
});
