/**
 * `protobus schema ...` as a user runs it (child processes) against a real
 * server: push a proto directory (built with buf) and a JSON Schema, list,
 * get, versions, a failing dry run printing every violation, modes, delete.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, startTestServer, tempDir, type TestServer } from "../support/test-server.js";
import { FIXTURES, PROTO_DIR, TASK_CREATED } from "./support.js";

const run = promisify(execFile);

describe("protobus schema CLI", () => {
  let t: TestServer;
  const dir = tempDir();
  const cli = (...args: string[]) => run(process.execPath, [CLI, "schema", ...args, "--address", t.address]);
  const failing = (...args: string[]) =>
    cli(...args).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.close();
    dir.dispose();
  });

  it("pushes a proto directory and a JSON Schema, lists, gets and shows versions", async () => {
    const pushed = await cli("push", PROTO_DIR, "--subject", "cli.task.created", "--message", TASK_CREATED);
    expect(pushed.stdout.trim()).toBe(`registered cli.task.created v1 PROTOBUF ${TASK_CREATED}`);
    await cli("push", join(FIXTURES, "json/task-created.v1.json"), "--subject", "cli.job.*");
    await cli("push", join(FIXTURES, "json/task-created.v2-compatible.json"), "--subject", "cli.job.*");

    const list = await cli("list");
    expect(list.stdout.trim().split("\n")).toEqual(["cli.job.* v2 JSON_SCHEMA JSON Schema", `cli.task.created v1 PROTOBUF ${TASK_CREATED}`]);
    const got = JSON.parse((await cli("get", "cli.job.*", "--version", "1")).stdout) as Record<string, unknown>;
    expect(got).toMatchObject({ subject: "cli.job.*", version: 1, format: "JSON_SCHEMA", deleted: false });
    expect((got.jsonSchema as { required: string[] }).required).toEqual(["taskId", "task"]);
    const versions = await cli("versions", "cli.job.*");
    expect(versions.stdout.trim().split("\n").map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual(["cli.job.* v1", "cli.job.* v2"]);

    // The pushed schema validates publishes.
    const publish = await run(process.execPath, [CLI, "publish", "--type", "cli.job.created", "--data", '{"taskId":"x","task":{"title":"t","priority":42}}', "--address", t.address]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((publish as { code: number }).code).toBe(1);
    expect((publish as { stderr: string }).stderr).toContain("events[0].data.task.priority: must be <= 9");
  });

  it("checks a candidate, printing every violation, and exits 1 when it is incompatible", async () => {
    await cli("push", join(FIXTURES, "json/task-created.v1.json"), "--subject", "cli.check.created");
    const ok = await failing("check", join(FIXTURES, "json/task-created.v2-compatible.json"), "--subject", "cli.check.created");
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe("compatible under BACKWARD against version 1");
    const bad = await failing("check", join(FIXTURES, "json/task-created.v2-breaking.json"), "--subject", "cli.check.created");
    expect(bad.code).toBe(1);
    const lines = bad.stdout.trim().split("\n");
    expect(lines.slice(0, -1).sort()).toEqual([
      'BACKWARD v1 JSON_ENUM_VALUE_REMOVED /properties/task/properties/status/enum: values "done" of version 1 are not in the new schema',
      "BACKWARD v1 JSON_MAXIMUM_TIGHTENED /properties/task/properties/priority/maximum: maximum is 9 in version 1 but 5 in the new schema",
      "BACKWARD v1 JSON_MAX_LENGTH_TIGHTENED /properties/task/properties/title/maxLength: maxLength is 200 in version 1 but 100 in the new schema",
      'BACKWARD v1 JSON_REQUIRED_ADDED /properties/owner: property "owner" is required in the new schema but not in version 1',
    ]);
    expect(lines.at(-1)).toBe("NOT compatible (4 violations) under BACKWARD against version 1");
    // A rejected push lists the same violations on stderr.
    const push = await failing("push", join(FIXTURES, "json/task-created.v2-breaking.json"), "--subject", "cli.check.created");
    expect(push.code).toBe(1);
    expect(push.stderr).toContain("JSON_REQUIRED_ADDED /properties/owner: BACKWARD against version 1");
  });

  it("shows and sets modes, per subject and global, and deletes versions", async () => {
    expect((await cli("mode", "cli.mode.created")).stdout.trim()).toBe("cli.mode.created: BACKWARD (inherited)");
    expect((await cli("mode", "cli.mode.created", "full_transitive")).stdout.trim()).toBe("cli.mode.created: FULL_TRANSITIVE");
    expect((await cli("mode", "--global", "FORWARD")).stdout.trim()).toBe("global: FORWARD");
    expect((await cli("mode", "cli.mode.created", "--clear")).stdout.trim()).toBe("cli.mode.created: FORWARD (inherited)");
    expect((await cli("mode", "--global", "BACKWARD")).stdout.trim()).toBe("global: BACKWARD");
    const bad = await failing("mode", "cli.mode.created", "SIDEWAYS");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("unknown compatibility mode 'SIDEWAYS'");

    const schemaFile = join(dir.path, "s.json");
    writeFileSync(schemaFile, JSON.stringify({ type: "object" }));
    await cli("push", schemaFile, "--subject", "cli.delete.created");
    expect((await cli("delete", "cli.delete.created", "--version", "1")).stdout.trim()).toBe("deleted cli.delete.created v1 JSON_SCHEMA JSON Schema (deleted)");
    expect((await cli("list", "--prefix", "cli.delete.")).stdout.trim()).toBe("");
  });
});
