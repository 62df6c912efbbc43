/**
 * The CLI shows Protobuf payloads as JSON, decoded with the schema version
 * each event was validated against (of its type, or of the pattern subject
 * that applied); `--raw` keeps their base64.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, createRegistryClient, syncEventSchemas } from "@protobus/sdk";
import { examplesAgentsV1Events } from "../examples/agents/src/gen/examples/agents/v1/events_protobus.js";
import { TaskCreated } from "../examples/agents/src/gen/examples/agents/v1/task_protobus.js";
import { CLI, startTestServer, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);

describe("CLI payload decoding", () => {
  let t: TestServer;
  const cli = async (...args: string[]) => (await run(process.execPath, [CLI, ...args, "--address", t.address])).stdout;
  let typedId = "";
  let patternId = "";

  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
    const registry = createRegistryClient({ address: t.address });
    try {
      await syncEventSchemas(registry, examplesAgentsV1Events);
      // The same message under a pattern subject.
      await registry.register("demo.task.*", { protobuf: { fileDescriptorSet: TaskCreated.fileDescriptorSet(), messageName: TaskCreated.messageName } });
    } finally {
      registry.close();
    }
    const client = createClient({ address: t.address, source: "agent/planner", events: examplesAgentsV1Events });
    try {
      typedId = (await client.publish(TaskCreated, { taskId: "t-1", title: "draft", priority: 0, budgetMicros: 2_500_000n, assignee: { case: "agentId", value: "w-1" } })).id;
      patternId = (
        await client.untyped.publish({
          type: "demo.task.made",
          data: TaskCreated.encode({ taskId: "t-2", title: "by pattern", priority: 0, budgetMicros: 0n }),
          dataContentType: "application/protobuf",
        })
      ).id;
      await client.untyped.publish({ type: "demo.note.made", data: { text: "json stays json" } });
    } finally {
      await client.close();
    }
  });
  afterAll(() => t.close());

  it("query, get and tail print Protobuf payloads as canonical JSON, naming the message", async () => {
    const lines = (await cli("query", "--json")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const typed = lines.find((l) => l.id === typedId);
    expect(typed).toMatchObject({
      type: "agent.task.created",
      dataMessage: "examples.agents.v1.TaskCreated",
      data: { taskId: "t-1", title: "draft", budgetMicros: "2500000", agentId: "w-1" },
    });
    expect(lines.find((l) => l.id === patternId)).toMatchObject({ dataMessage: "examples.agents.v1.TaskCreated", data: { taskId: "t-2", title: "by pattern" } });
    expect(lines.find((l) => l.type === "demo.note.made")).toMatchObject({ data: { text: "json stays json" } });
    expect(lines.find((l) => l.type === "demo.note.made")).not.toHaveProperty("dataMessage");

    const line = await cli("get", typedId);
    expect(line).toContain(`agent.task.created source=agent/planner id=${typedId}`);
    expect(line).toContain('{"taskId":"t-1","title":"draft","budgetMicros":"2500000","agentId":"w-1"}');

    const tailed = await cli("tail", "demo.task.*", "--from", "earliest", "--count", "1");
    expect(tailed).toContain('{"taskId":"t-2","title":"by pattern"}');
  });

  it("--raw keeps the base64 of the payload", async () => {
    const raw = JSON.parse(await cli("get", typedId, "--json", "--raw")) as Record<string, unknown>;
    expect(raw.data).toEqual({ base64: expect.any(String) as string });
    expect(raw).not.toHaveProperty("dataMessage");
    const bytes = Buffer.from((raw.data as { base64: string }).base64, "base64");
    expect(TaskCreated.decode(bytes).taskId).toBe("t-1");
  });
});
