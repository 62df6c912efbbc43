/**
 * Pattern semantics (NATS subjects: `*` one token, `>` one or more trailing
 * tokens), checked against a running server: each pattern subscribes, the
 * same set of types is published, and the deliveries must be exactly the
 * matching types.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, matchesPattern, patternError } from "@protobus/sdk";
import { startTestServer, type TestServer } from "./support/test-server.js";

const TYPES = [
  "agent.task.created",
  "agent.task.completed",
  "agent.tool.invoked",
  "agent.task.step.completed",
  "agent.registered",
  "workflow.task.created",
  "agenttask.created.x",
] as const;

const TABLE: ReadonlyArray<{ pattern: string; matches: readonly string[] }> = [
  { pattern: "agent.task.created", matches: ["agent.task.created"] },
  { pattern: "agent.task.*", matches: ["agent.task.created", "agent.task.completed"] },
  { pattern: "agent.*.created", matches: ["agent.task.created"] },
  { pattern: "*.task.created", matches: ["agent.task.created", "workflow.task.created"] },
  { pattern: "agent.*", matches: ["agent.registered"] },
  {
    pattern: "agent.>",
    matches: ["agent.task.created", "agent.task.completed", "agent.tool.invoked", "agent.task.step.completed", "agent.registered"],
  },
  { pattern: "agent.task.>", matches: ["agent.task.created", "agent.task.completed", "agent.task.step.completed"] },
  { pattern: "*.*.*", matches: ["agent.task.created", "agent.task.completed", "agent.tool.invoked", "workflow.task.created", "agenttask.created.x"] },
  { pattern: ">", matches: [...TYPES] },
  { pattern: "*.*.*.completed", matches: ["agent.task.step.completed"] },
  { pattern: "agent.task.created.>", matches: [] },
  { pattern: "agent", matches: [] },
];

describe("pattern semantics against the server", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
  });
  afterAll(() => t.close());

  it.each(TABLE)("$pattern delivers exactly its matches", async ({ pattern, matches }) => {
    const marker = `m${Math.random().toString(36).slice(2)}`;
    const sub = t.client.subscribe([pattern, `end.${marker}`]);
    await sub.opened();
    await t.client.publish(TYPES.map((type) => ({ type, source: marker })));
    await t.client.publish({ type: `end.${marker}`, source: marker });
    const seen: string[] = [];
    for await (const event of sub) {
      if (event.type === `end.${marker}`) break;
      if (event.source === marker) seen.push(event.type);
    }
    expect(seen).toEqual(matches);
    // The SDK's own matcher agrees with the server.
    expect(TYPES.filter((type) => matchesPattern(pattern, type))).toEqual(matches);
  });

  it.each(["", "agent..task", "agent.>.task", "Agent.task", "agent.ta sk", "agent.*x", ".agent"])(
    "rejects the malformed pattern %j with INVALID_ARGUMENT naming it",
    async (pattern) => {
      expect(patternError(pattern)).toBeDefined();
      const sub = t.client.subscribe(pattern);
      const error = await sub.opened().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProtobusError);
      expect((error as ProtobusError).code).toBe(Code.INVALID_ARGUMENT);
      expect((error as ProtobusError).fieldViolations.map((v) => v.field)).toEqual(["open.patterns[0]"]);
    },
  );

  it("rejects an open with no pattern", async () => {
    const sub = t.client.subscribe([]);
    const error = (await sub.opened().catch((e: unknown) => e)) as ProtobusError;
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.fieldViolations[0]?.field).toBe("open.patterns");
  });
});
