/**
 * examples/python/client.py against a real server: a Python client with
 * Debian's grpcio and protobuf (no generated stubs, no protoc) publishes,
 * subscribes with acks and joins a consumer group. Skipped with a loud
 * notice when no python3 with grpc is installed, except with CI=true.
 */
import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, startTestServer, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);

function pythonWithGrpc(): string | undefined {
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      execFileSync(python, ["-c", "import grpc, google.protobuf"], { stdio: "ignore" });
      return python;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

const python = pythonWithGrpc();
if (python === undefined) {
  const message = "python3 with grpcio and protobuf not found (Debian: apt-get install python3-grpcio python3-protobuf; .ci/run installs them)";
  if (process.env.CI === "true") throw new Error(message);
  console.warn(`\n!!! SKIPPING test/python-client.test.ts: ${message}\n`);
}

describe.skipIf(python === undefined)("the Python example client", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ store: "memory" });
  });
  afterAll(() => t.close());

  it("publishes, subscribes with acks and joins a group, with the contract's descriptor set and no stubs", async () => {
    const { stdout } = await run(
      python as string,
      [join(REPO_ROOT, "examples/python/client.py"), "--address", t.address, "--descriptor", join(REPO_ROOT, "sdk/src/gen/protobus.binpb")],
      { timeout: 60_000 },
    );
    const steps = stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const published = steps.find((s) => s.step === "publish");
    expect(published).toMatchObject({ sequence: 1, duplicate: false });
    expect(steps.find((s) => s.step === "subscribe")).toMatchObject({
      id: published?.id,
      type: "py.note.created",
      correlation_id: "py-flow-1",
      data: { text: "hello from Python" },
    });
    expect(steps.find((s) => s.step === "group")).toMatchObject({ jobs: [1, 2], envelope: "py.job.created" });
    // What Python published is what the SDK reads, and the group's acks were taken.
    const stored = await t.client.getEvent(published?.id as string);
    expect(stored.tags).toEqual(["python"]);
    const group = await t.client.getGroup("py-workers");
    expect(group.delivered).toBe(2n);
    expect(group.backlog).toBe(0n);
    expect(group.redelivered).toBe(0n);
  });
});
