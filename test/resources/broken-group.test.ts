/**
 * Issue 14, row 3 (the startup part): a stored consumer group whose filter
 * cannot be compiled (2,000 nested parentheses overflow the parser's stack)
 * or whose row does not read. `protobus serve` used to exit 1 on every start
 * until the row was removed by hand; now the server starts, logs the group,
 * reports it as broken in ListGroups and GetGroup, refuses members with
 * FAILED_PRECONDITION, runs the other groups, and lets it be deleted and
 * created again.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Code, ProtobusError, createClient, type ProtobusClient } from "@protobus/sdk";
import { spawnServer, tempDir, waitFor, type ServerProcess } from "../support/test-server.js";

const DEEP_FILTER = `${"(".repeat(2000)}subject == "a"${")".repeat(2000)}`;

describe("a stored group that cannot be loaded", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("never stops the server from starting and is reported as broken", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    let server: ServerProcess = await spawnServer(["--data-dir", dir.path]);
    cleanups.push(() => server.stop("SIGKILL"));
    let client: ProtobusClient = createClient({ address: server.address, source: "broken" });
    cleanups.push(() => client.close());
    const seen: string[] = [];
    const good = client.subscribe("res.>", async (event) => void seen.push(event.id), { group: "good", from: "earliest" });
    await good.opened();
    await client.publish([{ type: "res.item.added", id: "before" }]);
    await waitFor(async () => (await client.getGroup("good")).acked === 1n, 10_000, "the good group's first ack");
    good.close();
    await client.close();
    expect(await server.stop("SIGTERM")).toBe(0);

    // Rows as an older server (or a hand edit) may have left them.
    const db = new Database(join(dir.path, "events.db"));
    const insert = db.prepare("INSERT INTO groups (name, patterns, filter, settings, created, floor, counters) VALUES (?, ?, ?, ?, ?, ?, ?)");
    insert.run("deep", JSON.stringify(["res.>"]), DEEP_FILTER, "{}", Date.now(), 0, JSON.stringify({ delivered: 7, acked: 5 }));
    insert.run("garbled", "not json", "", "{}", Date.now(), 0, "{}");
    db.close();

    server = await spawnServer(["--data-dir", dir.path]);
    expect(server.output()).toContain("consumer group 'deep' is stored but cannot run");
    expect(server.output()).toContain("consumer group 'garbled' is stored but cannot run");
    client = createClient({ address: server.address, source: "broken" });

    const groups = await client.listGroups();
    expect(groups.map((g) => [g.name, g.broken !== ""])).toEqual([
      ["deep", true],
      ["garbled", true],
      ["good", false],
    ]);
    const deep = await client.getGroup("deep");
    expect(deep.broken).toMatch(/nest|deep/i);
    expect(deep).toMatchObject({ delivered: 7n, acked: 5n, members: 0 });
    expect((await client.getGroup("garbled")).broken).toContain("does not read");

    // No members for a broken group: a clear status, not a crash.
    const member = client.subscribe("res.>", async () => undefined, { group: "deep" });
    const refused = await member.opened().then(
      () => undefined,
      (error: unknown) => error,
    );
    member.close();
    expect(refused).toBeInstanceOf(ProtobusError);
    expect((refused as ProtobusError).code).toBe(Code.FAILED_PRECONDITION);

    // The healthy group runs on.
    const again: string[] = [];
    const good2 = client.subscribe("res.>", async (event) => void again.push(event.id), { group: "good" });
    await good2.opened();
    await client.publish([{ type: "res.item.added", id: "after" }]);
    await waitFor(() => again.includes("after"), 10_000, "the good group's next event");
    expect(again).not.toContain("before");
    good2.close();

    // The way out: delete, then create it again.
    await client.deleteGroup("deep");
    const recreated = client.subscribe("res.>", async () => undefined, { group: "deep", filter: 'subject == "a"' });
    await recreated.opened();
    recreated.close();
    expect((await client.getGroup("deep")).broken).toBe("");
  }, 30_000);
});
