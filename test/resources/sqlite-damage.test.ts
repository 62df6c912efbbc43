/**
 * Issue 14, row 14: three zeroed pages in the middle of `events.db`. The
 * server checks the file before it serves it (PRAGMA quick_check) and
 * refuses a damaged one, exiting with a message that names the way out;
 * `protobus recover` copies what can be read into a new file, keeps the
 * damaged one aside, and the server then starts, serves every recovered
 * event and numbers new events after the newest one.
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient } from "@protobus/sdk";
import { CLI, spawnServer, tempDir, type ServerProcess } from "../support/test-server.js";

const PAGE = 4096;
const EVENTS = 3_000;

function zeroPages(file: string, pages: readonly number[]): void {
  const fd = openSync(file, "r+");
  try {
    for (const page of pages) writeSync(fd, Buffer.alloc(PAGE), 0, PAGE, page * PAGE);
  } finally {
    closeSync(fd);
  }
}

function runCli(args: readonly string[]): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 20_000 });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

describe("a damaged sqlite store", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("is refused at start with the way out, and `protobus recover` brings it back", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    let server: ServerProcess = await spawnServer(["--data-dir", dir.path]);
    cleanups.push(() => server.stop("SIGKILL"));
    let client: ProtobusClient = createClient({ address: server.address, source: "damage" });
    cleanups.push(() => client.close());
    const payload = "x".repeat(400);
    for (let i = 0; i < EVENTS; i += 500) {
      await client.publish(
        Array.from({ length: 500 }, (_, j) => ({ id: `evt-${i + j}`, type: "damage.item.added", data: { n: i + j, payload }, tags: [`t${(i + j) % 7}`] })),
      );
    }
    await client.close();
    // A graceful stop checkpoints the WAL into events.db and removes it.
    expect(await server.stop("SIGTERM")).toBe(0);
    const file = join(dir.path, "events.db");
    const pages = Math.floor(statSync(file).size / PAGE);
    expect(pages).toBeGreaterThan(200);
    zeroPages(file, [Math.floor(pages * 0.4), Math.floor(pages * 0.5), Math.floor(pages * 0.6)]);

    // Refused: exit 1 with the check's findings and the command to run.
    const refused = runCli(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dir.path]);
    expect(refused.status).toBe(1);
    expect(refused.out).toContain("FAILED_PRECONDITION");
    expect(refused.out).toContain("is damaged and is not served");
    expect(refused.out).toContain(`protobus recover --data-dir ${dir.path}`);

    const recovered = runCli(["recover", "--data-dir", dir.path, "--json"]);
    expect(recovered.status, recovered.out).toBe(0);
    const report = JSON.parse(recovered.out) as { events: number; headSequence: number; lost: Array<{ from: number; to: number }> };
    const lost = report.lost.reduce((n, r) => n + r.to - r.from + 1, 0);
    // Three pages hold a few dozen events at most; the rest comes back.
    expect(report.events + lost).toBe(EVENTS);
    expect(lost).toBeLessThan(100);
    expect(readdirSync(dir.path).some((name) => name.startsWith("events.db.damaged-"))).toBe(true);

    server = await spawnServer(["--data-dir", dir.path]);
    client = createClient({ address: server.address, source: "damage" });
    let seen = 0;
    for await (const event of client.queryAll({ patterns: ["damage.>"], limit: 1000 })) {
      expect(event.id).toBe(`evt-${Number(event.sequence) - 1}`);
      seen += 1;
    }
    expect(seen).toBe(report.events);
    // The tag index is rebuilt from the events.
    let tagged = 0;
    for await (const event of client.queryAll({ tags: ["t3"], limit: 1000 })) {
      expect(event.tags).toContain("t3");
      tagged += 1;
    }
    expect(tagged).toBeGreaterThan(0);
    const next = await client.publish({ type: "damage.item.added", id: "after-recovery" });
    expect(next.sequence).toBe(BigInt(report.headSequence) + 1n);
  }, 30_000);
});
