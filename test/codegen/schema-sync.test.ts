/**
 * `protobus schema sync` as a user runs it (child processes) against a real
 * server on SQLite: one command registers every annotated message of a buf
 * module under its event type; re-running it registers nothing new; the
 * generated definitions describe the very same schemas; an incompatible
 * change is refused with every violation printed, exit code 1 and nothing
 * registered; the registered schemas validate typed and untyped publishes.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, createClient, createRegistryClient, defineEvent, syncEventSchemas } from "@protobus/sdk";
import { examplesAgentsV1Events } from "../../examples/agents/src/gen/examples/agents/v1/events_protobus.js";
import { TaskPriority } from "../../examples/agents/src/gen/examples/agents/v1/common_pb.js";
import { TaskCreatedSchema } from "../../examples/agents/src/gen/examples/agents/v1/task_pb.js";
import { TaskCreated, TaskProgress } from "../../examples/agents/src/gen/examples/agents/v1/task_protobus.js";
import { CLI, REPO_ROOT, startTestServer, tempDir, type TestServer } from "../support/test-server.js";

const run = promisify(execFile);
const EVENT_TYPES = Object.keys(examplesAgentsV1Events).length;

/** A buf module with the example domain and the option file, to edit freely. */
function copyModule(dir: string): string {
  const module = join(dir, "module");
  mkdirSync(join(module, "protobus/v1"), { recursive: true });
  cpSync(join(REPO_ROOT, "proto/protobus/v1/options.proto"), join(module, "protobus/v1/options.proto"));
  cpSync(join(REPO_ROOT, "proto/examples/agents/v1"), join(module, "examples/agents/v1"), { recursive: true });
  writeFileSync(join(module, "buf.yaml"), "version: v2\n");
  return module;
}

describe("protobus schema sync", () => {
  let t: TestServer;
  const dir = tempDir();
  let module: string;
  const sync = (...args: string[]) =>
    run(process.execPath, [CLI, "schema", "sync", ...args, "--address", t.address]).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  beforeAll(async () => {
    t = await startTestServer({ requireSchemas: true });
    module = copyModule(dir.path);
  });
  afterAll(async () => {
    await t.close();
    dir.dispose();
  });

  it("registers every annotated message under its event type, then nothing on a re-run", async () => {
    const first = await sync(module);
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n");
    expect(lines.at(-1)).toBe(`${EVENT_TYPES} event types: ${EVENT_TYPES} registered, 0 unchanged`);
    expect(lines).toContain("registered   agent.task.created v1 (examples.agents.v1.TaskCreated)");
    expect(lines).toContain("registered   agent.message.sent v1 (examples.agents.v1.MessageSent)");

    const registry = createRegistryClient({ address: t.address });
    try {
      const subjects = (await registry.list()).map((s) => s.subject).sort();
      expect(subjects).toEqual(Object.keys(examplesAgentsV1Events).sort());
      const schema = await registry.get("agent.workflow.step_completed");
      expect(schema.format).toBe("PROTOBUF");
      expect("protobuf" in schema.definition && schema.definition.protobuf.messageName).toBe("examples.agents.v1.WorkflowStepCompleted");

      const again = await sync(module);
      expect(again.code).toBe(0);
      expect(again.stdout.trim().split("\n").at(-1)).toBe(`${EVENT_TYPES} event types: 0 registered, ${EVENT_TYPES} unchanged`);

      // `schema push --from-buf` is the same command.
      const pushed = await run(process.execPath, [CLI, "schema", "push", module, "--from-buf", "--address", t.address]);
      expect(pushed.stdout.trim().split("\n").at(-1)).toBe(`${EVENT_TYPES} event types: 0 registered, ${EVENT_TYPES} unchanged`);

      // The generated definitions carry byte-identical descriptor sets: syncing them adds nothing either.
      const fromCode = await syncEventSchemas(registry, examplesAgentsV1Events);
      expect(fromCode.ok).toBe(true);
      expect(fromCode.results.map((r) => `${r.outcome} v${r.version}`)).toEqual(Array(EVENT_TYPES).fill("unchanged v1"));
    } finally {
      registry.close();
    }
  });

  it("validates publishes against the synced schemas: typed accepted, bad payloads and unknown types refused", async () => {
    const client = createClient({ address: t.address, source: "sync-test" });
    try {
      const accepted = await client.publish(TaskCreated, { taskId: "v1", title: "t", priority: TaskPriority.HIGH, budgetMicros: 1n, inputs: { a: "b" } });
      expect(accepted.sequence).toBeGreaterThan(0n);
      const stored = await client.getEvent(accepted.id);
      expect(stored.schemaVersion).toBe(1);
      // Canonical proto JSON from an untyped publisher is validated against the same schema.
      await client.publish({ type: "agent.task.progress", data: { taskId: "v1", percent: 20, note: "json" } });

      const bad = await client.publish({ type: "agent.task.progress", data: { taskId: "v1", percent: "many" } }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(ProtobusError);
      expect((bad as ProtobusError).code).toBe(Code.INVALID_ARGUMENT);
      expect((bad as ProtobusError).fieldViolations.map((v) => v.field).join(" ")).toContain("data");

      const garbage = await client
        .publish({ type: "agent.task.created", data: new Uint8Array([0xff, 0xff, 0xff]), dataContentType: "application/protobuf" })
        .catch((e: unknown) => e);
      expect((garbage as ProtobusError).code).toBe(Code.INVALID_ARGUMENT);

      const Unregistered = defineEvent({ type: "agent.task.unregistered", schema: TaskCreatedSchema });
      const refused = await client.publish(Unregistered, { taskId: "x", title: "t", priority: TaskPriority.LOW, budgetMicros: 0n }).catch((e: unknown) => e);
      expect((refused as ProtobusError).code).toBe(Code.FAILED_PRECONDITION);

      // A payload of another message under a registered type does not pass as it.
      const wrong = await client
        .publish({ type: "agent.task.created", data: TaskProgress.encode({ taskId: "x", percent: 5, note: "not a TaskCreated" }), dataContentType: "application/protobuf" })
        .catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(ProtobusError);
    } finally {
      await client.close();
    }
  });

  it("refuses an incompatible change with every violation, exit code 1, and registers nothing", async () => {
    const taskFile = join(module, "examples/agents/v1/task.proto");
    const original = readFileSync(taskFile, "utf8");
    // Two breaking edits in two messages, plus one compatible addition elsewhere.
    const broken = original
      .replace("  int64 budget_micros = 4;", "  string budget_micros = 4;")
      .replace("  uint32 percent = 2;\n", "")
      .replace("  bool retryable = 4;", "  bool retryable = 4;\n  string hint = 5;");
    expect(broken).not.toBe(original);
    writeFileSync(taskFile, broken);
    try {
      const result = await sync(module);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/incompatible +agent\.task\.created \(examples\.agents\.v1\.TaskCreated\)/);
      expect(result.stdout).toMatch(/BACKWARD v1 \S+ examples\.agents\.v1\.TaskCreated\.budget_micros/);
      expect(result.stdout).toMatch(/incompatible +agent\.task\.progress \(examples\.agents\.v1\.TaskProgress\)/);
      expect(result.stdout).toMatch(/BACKWARD v1 FIELD_NO_DELETE\S* examples\.agents\.v1\.TaskProgress/);
      expect(result.stdout).toMatch(/compatible +agent\.task\.failed/);
      expect(result.stderr).toContain("nothing registered: 2 of");

      const registry = createRegistryClient({ address: t.address });
      try {
        for (const subject of ["agent.task.created", "agent.task.progress", "agent.task.failed"]) {
          expect((await registry.versions(subject)).map((s) => s.version)).toEqual([1]);
        }
      } finally {
        registry.close();
      }

      // --dry-run reports the same and never registers.
      const dry = await sync(module, "--dry-run");
      expect(dry.code).toBe(1);
    } finally {
      writeFileSync(taskFile, original);
    }
    // A compatible change alone is registered as a new version of that subject only.
    writeFileSync(taskFile, original.replace("  bool retryable = 4;", "  bool retryable = 4;\n  string hint = 5;"));
    try {
      const ok = await sync(module);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain("registered   agent.task.failed v2 (examples.agents.v1.TaskFailed)");
      expect(ok.stdout.trim().split("\n").at(-1)).toBe(`${EVENT_TYPES} event types: 1 registered, ${EVENT_TYPES - 1} unchanged`);
    } finally {
      writeFileSync(taskFile, original);
    }
  });
});
