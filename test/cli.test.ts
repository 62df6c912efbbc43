/**
 * The CLI as a user runs it: `protobus publish`, `tail`, `query` and `get`
 * as child processes against a real server.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, startTestServer, waitFor, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);

describe("protobus CLI", () => {
  let t: TestServer;
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args, "--address", t.address]);
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("prints help", async () => {
    const { stdout } = await run(process.execPath, [CLI, "--help"]);
    for (const command of ["serve", "publish", "tail", "query", "get"]) expect(stdout).toContain(command);
  });

  it("publishes, tails and queries", async () => {
    const tail = spawn(process.execPath, [CLI, "tail", "cli.>", "--json", "--count", "2", "--from", "earliest", "--address", t.address]);
    let tailed = "";
    tail.stdout.on("data", (c: Buffer) => (tailed += c.toString()));
    const exited = new Promise<number | null>((resolve) => tail.on("exit", resolve));

    const first = await cli("publish", "--type", "cli.task.created", "--source", "cli-test", "--data", '{"taskId":"t1"}', "--tag", "a", "--tag", "b", "--correlation-id", "flow-7", "--json");
    const result = JSON.parse(first.stdout) as { id: string; sequence: string; duplicate: boolean };
    expect(result.duplicate).toBe(false);
    await cli("publish", "--type", "cli.task.done", "--data", '{"ok":true}', "--priority", "1", "--ttl", "1h");

    expect(await exited).toBe(0);
    const lines = tailed.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ id: result.id, type: "cli.task.created", source: "cli-test", data: { taskId: "t1" }, tags: ["a", "b"], correlationId: "flow-7" });
    expect(lines[1]).toMatchObject({ type: "cli.task.done", source: "cli", priority: 1, data: { ok: true } });
    expect(lines[1]?.expireTime).toBeDefined();

    const queried = await cli("query", "cli.task.*", "--correlation-id", "flow-7");
    expect(queried.stdout.trim().split("\n")).toHaveLength(1);
    expect(queried.stdout).toContain("cli.task.created");
    expect(queried.stdout).toContain(`id=${result.id}`);

    const got = await cli("get", result.id, "--json");
    expect(JSON.parse(got.stdout)).toMatchObject({ id: result.id, sequence: result.sequence });
  });

  it("tails live events printed one per line", async () => {
    const tail = spawn(process.execPath, [CLI, "tail", "live.*.sent", "--count", "1", "--address", t.address]);
    let out = "";
    tail.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => tail.on("exit", resolve));
    // Publish until the tail (which starts at latest) has seen one.
    await waitFor(
      async () => {
        await cli("publish", "--type", "live.msg.sent", "--data", '"hello"');
        return out.length > 0;
      },
      15_000,
      "tail output",
    );
    expect(await exited).toBe(0);
    expect(out).toMatch(/^#\d+ \S+ live\.msg\.sent source=cli id=\S+ correlation=\S+ "hello"\n$/);
  });

  it("prints each field violation and exits 1 on a rejected publish", async () => {
    const error = (await cli("publish", "--type", "Nope", "--priority", "12").catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(error.code).toBe(1);
    expect(error.stderr).toContain("[INVALID_ARGUMENT]");
    expect(error.stderr).toContain("events[0].type:");
    expect(error.stderr).toContain("events[0].priority:");
  });
});
