/**
 * Typed clients over a real server: typed publish → typed subscribe keeps
 * every field (64-bit integers, enums, oneofs, nested messages, repeated and
 * map fields, Timestamp); typed and untyped clients interoperate both ways
 * on the same wire format; envelope options and the type's defaults reach
 * the envelope; events of types the client does not know are skipped; and
 * publishing inside a typed handler joins the handled event's flow.
 */
import { equals, toBinary, toJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient, type ReceivedEvent, type TypedEvent } from "@protobus/sdk";
import { examplesAgentsV1Events, type ExamplesAgentsV1Events } from "../../examples/agents/src/gen/examples/agents/v1/events_protobus.js";
import { TaskPriority } from "../../examples/agents/src/gen/examples/agents/v1/common_pb.js";
import { TaskCreatedSchema, type TaskCreated as TaskCreatedMessage } from "../../examples/agents/src/gen/examples/agents/v1/task_pb.js";
import { TaskCreated, TaskProgress, TaskStarted } from "../../examples/agents/src/gen/examples/agents/v1/task_protobus.js";
import { startTestServer, waitFor, type TestServer } from "../support/test-server.js";

const FULL = {
  taskId: "task-64",
  title: "every field kind",
  priority: TaskPriority.CRITICAL,
  budgetMicros: -9_223_372_036_854_775_808n,
  requiredSkills: ["writing", "search", "ünïcödé"],
  inputs: { quarter: "2026-Q3", empty: "" },
  spec: {
    instruction: "summarize",
    acceptanceCriteria: ["short", "sourced"],
    limits: { maxToolCalls: 4_294_967_295, maxTokens: 18_446_744_073_709_551_615n },
  },
  deadline: { seconds: 1_893_456_000n, nanos: 123_456_789 },
  assignee: { case: "capability", value: "writing" },
  parentTaskId: "task-0",
  inputLimits: { quarter: { maxToolCalls: 2, maxTokens: 9_007_199_254_740_993n } },
} as const;

describe("typed clients over a real server", () => {
  let t: TestServer;
  let typed: ProtobusClient<ExamplesAgentsV1Events>;

  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
    typed = createClient({ address: t.address, source: "typed-test", events: examplesAgentsV1Events });
  });
  afterAll(async () => {
    await typed.close();
    await t.close();
  });

  it("round-trips every field kind, field by field, and applies envelope options and the type's defaults", async () => {
    const received: TypedEvent<"agent.task.created", TaskCreatedMessage>[] = [];
    const sub = typed.subscribe("agent.task.created", (event) => {
      received.push(event);
    });
    await sub.opened();
    const expireTime = new Date(Date.now() + 600_000);
    const before = Date.now();
    await typed.publish(TaskCreated, FULL, { correlationId: "corr-rt", priority: 1, tags: ["a", "b"], expireTime, subject: "worker-9", attributes: { team: "x" } });
    await typed.publish("agent.task.created", { taskId: "defaults", title: "d", priority: TaskPriority.LOW, budgetMicros: 9_223_372_036_854_775_807n });
    await waitFor(() => received.length === 2, 10_000, "two typed deliveries");
    sub.close();

    const [full, minimal] = received as [TypedEvent<"agent.task.created", TaskCreatedMessage>, TypedEvent<"agent.task.created", TaskCreatedMessage>];
    const want = TaskCreated.create(FULL);
    expect(equals(TaskCreatedSchema, full.payload, want)).toBe(true);
    expect(full.payload.budgetMicros).toBe(-9_223_372_036_854_775_808n);
    expect(full.payload.spec?.limits?.maxTokens).toBe(18_446_744_073_709_551_615n);
    expect(full.payload.spec?.limits?.maxToolCalls).toBe(4_294_967_295);
    expect(full.payload.priority).toBe(TaskPriority.CRITICAL);
    expect(full.payload.assignee).toEqual({ case: "capability", value: "writing" });
    expect(full.payload.requiredSkills).toEqual(["writing", "search", "ünïcödé"]);
    expect(full.payload.inputs).toEqual({ quarter: "2026-Q3", empty: "" });
    expect(full.payload.inputLimits.quarter?.maxTokens).toBe(9_007_199_254_740_993n);
    expect(full.payload.deadline?.seconds).toBe(1_893_456_000n);
    expect(full.payload.deadline?.nanos).toBe(123_456_789);
    expect(full.payload.parentTaskId).toBe("task-0");

    expect(full.type).toBe("agent.task.created");
    expect(full.dataContentType).toBe("application/protobuf");
    expect(full.correlationId).toBe("corr-rt");
    expect(full.priority).toBe(1);
    expect(full.tags).toEqual(["a", "b"]);
    expect(full.subject).toBe("worker-9");
    expect(full.attributes).toEqual({ team: "x" });
    expect(full.expireTime?.getTime()).toBe(expireTime.getTime());
    expect(full.source).toBe("typed-test");

    // Defaults from (protobus.v1.event): priority 3, ttl 1 day.
    expect(minimal.payload.budgetMicros).toBe(9_223_372_036_854_775_807n);
    expect(minimal.payload.assignee.case).toBeUndefined();
    expect(minimal.payload.parentTaskId).toBeUndefined();
    expect(minimal.priority).toBe(3);
    const ttl = (minimal.expireTime?.getTime() ?? 0) - before;
    expect(ttl).toBeGreaterThan(86_400_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000 + 60_000);
  });

  it("a typed publish is read by an untyped subscriber with nothing but the generated message", async () => {
    const plain = createClient({ address: t.address, source: "untyped" });
    const got: ReceivedEvent[] = [];
    const sub = plain.subscribe("agent.task.*", (event) => {
      got.push(event);
    });
    await sub.opened();
    await typed.publish(TaskCreated, FULL);
    await waitFor(() => got.length === 1, 10_000, "the untyped delivery");
    sub.close();
    await plain.close();
    const event = got[0] as ReceivedEvent;
    expect(event.type).toBe("agent.task.created");
    expect(event.dataContentType).toBe("application/protobuf");
    expect(equals(TaskCreatedSchema, TaskCreated.decode(event.data), TaskCreated.create(FULL))).toBe(true);
  });

  it("untyped publishes (Protobuf binary and canonical proto JSON) reach a typed subscriber decoded", async () => {
    const plain = createClient({ address: t.address, source: "untyped" });
    const got: TypedEvent<"agent.task.created", TaskCreatedMessage>[] = [];
    const sub = typed.subscribe("agent.task.created", (event) => {
      got.push(event);
    });
    await sub.opened();
    const message = TaskCreated.create(FULL);
    await plain.publish({ type: "agent.task.created", data: toBinary(TaskCreatedSchema, message), dataContentType: "application/protobuf" });
    await plain.publish({ type: "agent.task.created", data: toJsonString(TaskCreatedSchema, message), dataContentType: "application/json" });
    await waitFor(() => got.length === 2, 10_000, "two typed deliveries");
    sub.close();
    await plain.close();
    for (const event of got) expect(equals(TaskCreatedSchema, event.payload, message)).toBe(true);
    expect(got.map((e) => e.dataContentType)).toEqual(["application/protobuf", "application/json"]);
  });

  it("skips (acks) events of types the client has no definition for, and keeps delivering", async () => {
    const skipped: string[] = [];
    const handled: string[] = [];
    const sub = typed.subscribe(
      "agent.task.*",
      (event) => {
        handled.push(event.type);
      },
      { onSkip: (event, reason) => skipped.push(`${event.type}:${reason}`) },
    );
    await sub.opened();
    await typed.untyped.publish({ type: "agent.task.escalated", data: { why: "no definition" } });
    await typed.publish(TaskStarted, { taskId: "t", agentId: "a" });
    await waitFor(() => handled.length === 1 && skipped.length === 1, 10_000, "one skip and one delivery");
    sub.close();
    expect(skipped).toEqual(["agent.task.escalated:unknown-type"]);
    expect(handled).toEqual(["agent.task.started"]);
  });

  it("iterates a typed subscription with for await", async () => {
    const sub = typed.subscribe(["agent.task.progress", "agent.task.started"]);
    await sub.opened();
    await typed.publish(TaskStarted, { taskId: "it", agentId: "a" });
    await typed.publish(TaskProgress, { taskId: "it", percent: 40, note: "n" });
    const seen: string[] = [];
    for await (const event of sub) {
      if (event.type === "agent.task.progress") seen.push(`progress ${event.payload.percent}`);
      else seen.push(`started ${event.payload.agentId}`);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(["started a", "progress 40"]);
  });

  it("events published inside a typed handler join the handled event's flow", async () => {
    const progress: TypedEvent<"agent.task.progress", unknown>[] = [];
    const worker = typed.subscribe("agent.task.started", async (event) => {
      await typed.publish(TaskProgress, { taskId: event.payload.taskId, percent: 10, note: "begun" });
    });
    const watcher = typed.subscribe("agent.task.progress", (event) => {
      if (event.payload.taskId === "flow-1") progress.push(event);
    });
    await Promise.all([worker.opened(), watcher.opened()]);
    const started = await typed.publish(TaskStarted, { taskId: "flow-1", agentId: "a" }, { correlationId: "flow-corr" });
    await waitFor(() => progress.length === 1, 10_000, "the progress published by the handler");
    worker.close();
    watcher.close();
    expect(progress[0]?.correlationId).toBe("flow-corr");
    expect(progress[0]?.causationId).toBe(started.id);
  });

  it("definitions carry their type, message, defaults and a timestamp helper that round-trips", () => {
    expect(TaskCreated.type).toBe("agent.task.created");
    expect(TaskCreated.messageName).toBe("examples.agents.v1.TaskCreated");
    expect(TaskCreated.defaults).toEqual({ priority: 3, ttlMs: 86_400_000 });
    expect(TaskStarted.defaults).toEqual({});
    const at = new Date("2031-02-03T04:05:06.789Z");
    const bytes = TaskCreated.encode({ taskId: "x", title: "y", priority: TaskPriority.LOW, budgetMicros: 1n, deadline: timestampFromDate(at) });
    expect(TaskCreated.decode(bytes).deadline?.seconds).toBe(BigInt(Math.floor(at.getTime() / 1000)));
  });
});
