/**
 * The runnable example (`npm run example:agents`): a server, a planner and
 * a worker in separate processes coordinate one task through typed
 * handlers, every publish validated against the synced schemas, and the
 * run exits 0. Runs the compiled example as the npm script does.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/test-server.js";

const run = promisify(execFile);

describe("examples/agents", () => {
  it("runs a planner and a worker to completion and exits 0", async () => {
    const { stdout } = await run(process.execPath, [join(REPO_ROOT, "examples/agents/dist/run.js")], { timeout: 90_000 });
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^\[run\] server on 127\.0\.0\.1:\d+; 21 event types registered; publishes are validated$/);
    expect(stdout).toMatch(/\[worker\] registered as worker-\d+/);
    expect(stdout).toMatch(/\[planner\] assigned task-report-1 to worker-\d+/);
    expect(stdout).toContain("[planner] task-report-1: 50% (sources found)");
    expect(stdout).toMatch(/\[planner\] task-report-1 completed by worker-\d+ in \d+ ms: revenue up 4%, two open risks/);
    expect(stdout).toContain(
      "[run] 11 events in 1 flow(s): agent.registered → agent.workflow.started → agent.task.created → agent.task.assigned → agent.task.started → agent.tool.invoked → agent.tool.completed → agent.task.progress → agent.task.completed → agent.workflow.completed → agent.stopped",
    );
    expect(lines.at(-1)).toBe("[run] planner exited 0, worker exited 0: done");
  });
});
