/**
 * A plain grpc-js client built from the .proto files alone (proto-loader
 * for the EventBus, protobufjs for the example payloads, no generated code)
 * interoperates with typed clients both ways.
 */
import { join } from "node:path";
import * as protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient, type TypedEvent } from "@protobus/sdk";
import { examplesAgentsV1Events, type ExamplesAgentsV1Events } from "../../examples/agents/src/gen/examples/agents/v1/events_protobus.js";
import { TaskPriority } from "../../examples/agents/src/gen/examples/agents/v1/common_pb.js";
import type { TaskCreated as TaskCreatedMessage } from "../../examples/agents/src/gen/examples/agents/v1/task_pb.js";
import { TaskCreated } from "../../examples/agents/src/gen/examples/agents/v1/task_protobus.js";
import { plainEventBus, plainUnary } from "../support/plain-client.js";
import { REPO_ROOT, startTestServer, waitFor, type TestServer } from "../support/test-server.js";

interface PlainDelivery {
  delivery?: { event: { type: string; data: Buffer; data_content_type: string; correlation_id: string }; delivery_id: string };
}

describe("a plain grpc-js client and typed clients", () => {
  let t: TestServer;
  let typed: ProtobusClient<ExamplesAgentsV1Events>;
  let bus: ReturnType<typeof plainEventBus>;
  let TaskCreatedType: protobuf.Type;

  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
    typed = createClient({ address: t.address, source: "typed", events: examplesAgentsV1Events });
    bus = plainEventBus(t.address);
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(REPO_ROOT, "proto", target);
    await root.load("examples/agents/v1/task.proto");
    TaskCreatedType = root.lookupType("examples.agents.v1.TaskCreated");
  });
  afterAll(async () => {
    bus.close();
    await typed.close();
    await t.close();
  });

  it("a plain publish is received decoded by a typed subscriber", async () => {
    const got: TypedEvent<"agent.task.created", TaskCreatedMessage>[] = [];
    const sub = typed.subscribe("agent.task.*", (event) => {
      if (event.type === "agent.task.created") got.push(event);
    });
    await sub.opened();
    const data = TaskCreatedType.encode(
      TaskCreatedType.fromObject({
        taskId: "plain-1",
        title: "from a plain client",
        priority: "TASK_PRIORITY_HIGH",
        budgetMicros: "-9223372036854775807",
        inputs: { k: "v" },
        capability: "search",
        deadline: { seconds: 1_900_000_000, nanos: 5 },
      }),
    ).finish();
    await plainUnary(bus, "Publish", {
      events: [{ source: "plain", type: "agent.task.created", data: Buffer.from(data), data_content_type: "application/protobuf", correlation_id: "plain-corr" }],
    });
    await waitFor(() => got.length === 1, 10_000, "the typed delivery");
    sub.close();
    const payload = (got[0] as TypedEvent<"agent.task.created", TaskCreatedMessage>).payload;
    expect(payload.taskId).toBe("plain-1");
    expect(payload.priority).toBe(TaskPriority.HIGH);
    expect(payload.budgetMicros).toBe(-9_223_372_036_854_775_807n);
    expect(payload.inputs).toEqual({ k: "v" });
    expect(payload.assignee).toEqual({ case: "capability", value: "search" });
    expect(payload.deadline?.seconds).toBe(1_900_000_000n);
    expect(payload.deadline?.nanos).toBe(5);
    expect(got[0]?.correlationId).toBe("plain-corr");
  });

  it("a typed publish is received and decoded by a plain subscriber", async () => {
    const call = (bus as unknown as { Subscribe: () => NodeJS.ReadWriteStream & { write(m: unknown): boolean; cancel(): void } }).Subscribe();
    const deliveries: PlainDelivery["delivery"][] = [];
    let opened = false;
    call.on("data", (message: PlainDelivery & { opened?: unknown }) => {
      if (message.opened !== undefined && message.opened !== null) opened = true;
      if (message.delivery) deliveries.push(message.delivery);
    });
    call.on("error", () => undefined);
    call.write({ open: { patterns: ["agent.task.created"] } });
    await waitFor(() => opened, 10_000, "the plain subscription to open");
    await typed.publish(TaskCreated, {
      taskId: "typed-1",
      title: "to a plain client",
      priority: TaskPriority.CRITICAL,
      budgetMicros: 9_007_199_254_740_993n,
      requiredSkills: ["a", "b"],
      assignee: { case: "agentId", value: "w-1" },
      spec: { instruction: "do", limits: { maxToolCalls: 2, maxTokens: 10n } },
    });
    await waitFor(() => deliveries.length === 1, 10_000, "the plain delivery");
    call.cancel();
    const event = deliveries[0] as NonNullable<PlainDelivery["delivery"]>;
    expect(event.event.type).toBe("agent.task.created");
    expect(event.event.data_content_type).toBe("application/protobuf");
    const decoded = TaskCreatedType.toObject(TaskCreatedType.decode(event.event.data), { longs: String, enums: String }) as Record<string, unknown>;
    expect(decoded).toMatchObject({
      taskId: "typed-1",
      title: "to a plain client",
      priority: "TASK_PRIORITY_CRITICAL",
      budgetMicros: "9007199254740993",
      requiredSkills: ["a", "b"],
      agentId: "w-1",
      spec: { instruction: "do", limits: { maxToolCalls: 2, maxTokens: "10" } },
    });
  });
});
