/**
 * Compile-time guarantees of typed clients. `npm run typecheck` compiles
 * this file with tsc: every `@ts-expect-error` must meet an error (or tsc
 * fails), and every `expectTypeOf` must hold. Vitest runs it too, so the
 * runtime side of the same calls is exercised against a real server.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { createClient, timestampFromDate, type EventsMatching, type PatternMatches, type ProtobusClient, type ReceivedEvent, type TypedEvent } from "@protobus/sdk";
import { examplesAgentsV1Events, type ExamplesAgentsV1Events } from "../../examples/agents/src/gen/examples/agents/v1/events_protobus.js";
import { TaskCreated, TaskProgress, TaskAssigned } from "../../examples/agents/src/gen/examples/agents/v1/task_protobus.js";
import { TaskPriority } from "../../examples/agents/src/gen/examples/agents/v1/common_pb.js";
import type { TaskCreated as TaskCreatedMessage, TaskProgress as TaskProgressMessage, TaskStarted as TaskStartedMessage } from "../../examples/agents/src/gen/examples/agents/v1/task_pb.js";
import type { AgentRegistered as AgentRegisteredMessage, AgentHeartbeat as AgentHeartbeatMessage, AgentStopped as AgentStoppedMessage } from "../../examples/agents/src/gen/examples/agents/v1/agent_pb.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

type Agents = ExamplesAgentsV1Events;

describe("pattern matching at the type level", () => {
  it("implements * as one token and > as one or more trailing tokens", () => {
    expectTypeOf<PatternMatches<"agent.task.*", "agent.task.created">>().toEqualTypeOf<true>();
    expectTypeOf<PatternMatches<"agent.task.*", "agent.task">>().toEqualTypeOf<false>();
    expectTypeOf<PatternMatches<"agent.*", "agent.task.created">>().toEqualTypeOf<false>();
    expectTypeOf<PatternMatches<"agent.>", "agent.task.created">>().toEqualTypeOf<true>();
    expectTypeOf<PatternMatches<"agent.>", "agent.registered">>().toEqualTypeOf<true>();
    expectTypeOf<PatternMatches<"agent.>", "agent">>().toEqualTypeOf<false>();
    expectTypeOf<PatternMatches<"*.task.created", "agent.task.created">>().toEqualTypeOf<true>();
    expectTypeOf<PatternMatches<"agent.task.created", "agent.task.created">>().toEqualTypeOf<true>();
    expectTypeOf<PatternMatches<"agent.task.created", "agent.task.create">>().toEqualTypeOf<false>();
    expectTypeOf<PatternMatches<"agent.*.created", "agent.tool.created">>().toEqualTypeOf<true>();
  });

  it("gives a pattern's handler exactly the union of the matching generated types", () => {
    expectTypeOf<EventsMatching<Agents, "agent.*">["type"]>().toEqualTypeOf<"agent.registered" | "agent.heartbeat" | "agent.stopped">();
    expectTypeOf<EventsMatching<Agents, "agent.*">>().toEqualTypeOf<
      | TypedEvent<"agent.registered", AgentRegisteredMessage>
      | TypedEvent<"agent.heartbeat", AgentHeartbeatMessage>
      | TypedEvent<"agent.stopped", AgentStoppedMessage>
    >();
    expectTypeOf<EventsMatching<Agents, "agent.task.*">["type"]>().toEqualTypeOf<
      | "agent.task.created"
      | "agent.task.assigned"
      | "agent.task.started"
      | "agent.task.progress"
      | "agent.task.completed"
      | "agent.task.failed"
      | "agent.task.cancelled"
    >();
    expectTypeOf<EventsMatching<Agents, "agent.task.progress" | "agent.task.started">>().toEqualTypeOf<
      TypedEvent<"agent.task.progress", TaskProgressMessage> | TypedEvent<"agent.task.started", TaskStartedMessage>
    >();
    expectTypeOf<EventsMatching<Agents, "agent.>">["type"]>().toEqualTypeOf<keyof Agents>();
    expectTypeOf<EventsMatching<Agents, "*.workflow.*">["type"]>().toEqualTypeOf<
      "agent.workflow.started" | "agent.workflow.step_completed" | "agent.workflow.completed" | "agent.workflow.failed"
    >();
  });
});

describe("typed publish and subscribe", () => {
  let server: TestServer;
  let client: ProtobusClient<Agents>;

  beforeAll(async () => {
    server = await startTestServer({ store: "memory" });
    client = createClient({ address: server.address, source: "types", events: examplesAgentsV1Events });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it("type-checks payloads: wrong field types, missing required fields and unknown types do not compile", async () => {
    const ok = {
      taskId: "t1",
      title: "write the report",
      priority: TaskPriority.HIGH,
      budgetMicros: 5_000_000n,
      spec: { instruction: "summarize", limits: { maxToolCalls: 3, maxTokens: 1000n } },
      deadline: timestampFromDate(new Date("2030-01-01T00:00:00Z")),
      assignee: { case: "agentId", value: "worker-1" },
      inputs: { source: "s3://bucket/report" },
    } as const;
    const first = await client.publish(TaskCreated, ok, { correlationId: "types-1", tags: ["demo"], priority: 1 });
    const second = await client.publish("agent.task.created", ok);
    // Explicit presence (optional, message, oneof) and repeated/map fields may be left out.
    const third = await client.publish(TaskCreated, { taskId: "t2", title: "x", priority: TaskPriority.LOW, budgetMicros: 0n });
    expect(second.sequence).toBeGreaterThan(first.sequence);
    expect(third.sequence).toBeGreaterThan(second.sequence);

    // Type-checked only: these calls must not compile, so they never run.
    const compileOnly = async (): Promise<void> => {
      // @ts-expect-error a string where the field is a 64-bit integer (bigint)
      await client.publish(TaskCreated, { ...ok, budgetMicros: "lots" });
      // @ts-expect-error an enum field given a string
      await client.publish(TaskCreated, { ...ok, priority: "HIGH" });
      // @ts-expect-error a nested message's field of the wrong type
      await client.publish(TaskCreated, { ...ok, spec: { instruction: 42 } });
      // @ts-expect-error a oneof case that does not exist
      await client.publish(TaskCreated, { ...ok, assignee: { case: "team", value: "x" } });
      const { title: _title, ...withoutTitle } = ok;
      // @ts-expect-error `title` is an implicit-presence string: required
      await client.publish(TaskCreated, withoutTitle);
      // @ts-expect-error `percent` is missing from the progress payload
      await client.publish(TaskProgress, { taskId: "t1", note: "half way" });
      // @ts-expect-error a nested message's implicit field is required too (limits.maxTokens)
      await client.publish(TaskCreated, { ...ok, spec: { instruction: "x", limits: { maxToolCalls: 1 } } });
      // @ts-expect-error the payload of another type
      await client.publish(TaskAssigned, ok);
      // @ts-expect-error an unknown event type string
      await client.publish("agent.task.craeted", ok);
      // @ts-expect-error a pattern no generated type matches
      client.subscribe("agent.tsak.*", () => undefined);
      // @ts-expect-error one pattern of the list matches no generated type
      client.subscribe(["agent.task.*", "agent.nothing"], () => undefined);
    };
    void compileOnly;

    // At run time an unknown type string is refused too.
    const publishUnknown = client.publish as (type: string, payload: unknown) => Promise<unknown>;
    await expect(publishUnknown("agent.task.craeted", ok)).rejects.toThrow(/no event definition for type 'agent.task.craeted'/);
  });

  it("narrows the handler's event by event.type; a wrong-narrowing handler does not compile", () => {
    const sub = client.subscribe("agent.task.*", (event) => {
      expectTypeOf(event.type).toEqualTypeOf<
        | "agent.task.created"
        | "agent.task.assigned"
        | "agent.task.started"
        | "agent.task.progress"
        | "agent.task.completed"
        | "agent.task.failed"
        | "agent.task.cancelled"
      >();
      switch (event.type) {
        case "agent.task.created":
          expectTypeOf(event.payload).toEqualTypeOf<TaskCreatedMessage>();
          expectTypeOf(event.payload.budgetMicros).toEqualTypeOf<bigint>();
          break;
        case "agent.task.progress":
          expectTypeOf(event.payload.percent).toEqualTypeOf<number>();
          // @ts-expect-error a field of another event type
          void event.payload.budgetMicros;
          break;
        // @ts-expect-error not a type this pattern can deliver
        case "agent.tool.invoked":
          break;
        default:
          break;
      }
    });
    sub.close();

    const onlyTools = (event: TypedEvent<"agent.tool.invoked", unknown>): void => void event;
    // @ts-expect-error a handler for other types than the pattern delivers
    client.subscribe("agent.task.*", onlyTools).close();
    const onlyCreated = (event: TypedEvent<"agent.task.created", TaskCreatedMessage>): void => void event;
    // @ts-expect-error a handler for one member of the union only
    client.subscribe("agent.task.*", onlyCreated).close();
    // A handler for exactly the pattern's union compiles.
    client.subscribe(["agent.task.created"], onlyCreated).close();
    // The untyped view takes any pattern and gives plain events.
    client.untyped
      .subscribe("anything.*", (event) => {
        expectTypeOf(event).toEqualTypeOf<ReceivedEvent>();
      })
      .close();
    expect(client.events).toBe(examplesAgentsV1Events);
  });
});
