/**
 * Dead subscribers: a group member in another process takes deliveries and
 * is then frozen with SIGSTOP, so its TCP connection stays open but nothing
 * answers on it (a half-open stream). The server's HTTP/2 keepalive pings go
 * unanswered, the server closes the connection, the member leaves the group
 * and its in-flight deliveries go to the other member, long before their
 * ack deadline. The keepalive is shortened here through the server's real
 * options; with the defaults (10 s interval, 10 s timeout) the same happens
 * within 30 s.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, waitFor } from "../support/test-server.js";

const MEMBER = fileURLToPath(new URL("../fixtures/processes/subscriber.mjs", import.meta.url));

describe("a half-open group member", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("is detected by keepalive and its deliveries return to the group", { timeout: 60_000 }, async () => {
    const t = await startTestServer({ keepaliveIntervalMs: 1000, keepaliveTimeoutMs: 1000, heartbeatMs: 500 });
    cleanups.push(() => t.close());
    // The ack deadline is far beyond the test: only dead-peer detection can return the deliveries.
    const published = await t.client.publish(Array.from({ length: 20 }, (_, i) => ({ id: `half-open-${i}`, type: "halfopen.job.created" })));
    const child = spawn(process.execPath, [MEMBER, t.address, "halfopen.>", "half-open", "20"], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    cleanups.push(() => {
      child.kill("SIGKILL");
    });
    const taken = () => output.split("\n").filter((line) => line.startsWith("delivery "));
    await waitFor(() => taken().length === 20, 20_000, "the member process to take all 20 deliveries");
    expect((await t.client.getGroup("half-open")).inFlight).toBe(20n);

    const rescued = new Map<string, number>();
    const other = t.client.subscribe("halfopen.>", { group: "half-open", autoAck: true, ackDeadlineMs: 600_000, backoffMinMs: 10 });
    cleanups.push(() => other.close());
    await other.opened();
    const collecting = (async () => {
      for await (const event of other) rescued.set(event.id, event.attempt);
    })();

    child.kill("SIGSTOP");
    const frozenAt = Date.now();
    await waitFor(() => rescued.size === 20, 30_000, "the frozen member's deliveries to reach the other member");
    const detectedIn = Date.now() - frozenAt;
    console.log(`half-open member detected and its 20 deliveries handed over in ${detectedIn} ms`);
    expect([...rescued.keys()].sort()).toEqual(published.map((r) => r.id).sort());
    expect([...rescued.values()].every((attempt) => attempt === 2)).toBe(true);
    await waitFor(async () => (await t.client.getGroup("half-open")).members === 1, 10_000, "one member left");
    // Well within the ack deadline: it was the keepalive, not the deadline.
    expect(detectedIn).toBeLessThan(30_000);
    other.close();
    await collecting;
    child.kill("SIGKILL");
  });
});
