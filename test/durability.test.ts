/**
 * Durability: `protobus serve` as a child process on SQLite, 5,000 events
 * published from several concurrent publishers, `kill -9` while they are
 * still publishing, restart on the same data directory: every event whose
 * publish was acknowledged is returned by QueryEvents, with its sequence.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient } from "@protobus/sdk";
import { spawnServer, tempDir, type ServerProcess } from "./support/test-server.js";

describe("durability across kill -9", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("keeps every acknowledged publish", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    let server: ServerProcess = await spawnServer(["--data-dir", dir.path, "--store", "sqlite"]);
    cleanups.push(() => server.stop("SIGKILL"));
    let client: ProtobusClient = createClient({ address: server.address, source: "durability" });
    cleanups.push(() => client.close());

    const acknowledged = new Map<string, bigint>();
    const total = 5000;
    const killAfter = 2500 + Math.floor(Math.random() * 1500);
    let next = 0;
    let killed = false;
    const publisher = async (): Promise<void> => {
      while (next < total) {
        const batch = Array.from({ length: Math.min(10, total - next) }, () => {
          const n = next++;
          return { id: `evt-${n}`, type: "durable.item.added", data: { n } };
        });
        try {
          const results = await client.publish(batch);
          for (const r of results) acknowledged.set(r.id, r.sequence);
        } catch {
          // Unacknowledged: the server died under this call; it may or may not be stored.
          return;
        }
        if (!killed && acknowledged.size >= killAfter) {
          killed = true;
          await server.stop("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, publisher));
    expect(killed).toBe(true);
    expect(acknowledged.size).toBeGreaterThanOrEqual(killAfter);

    await client.close();
    server = await spawnServer(["--data-dir", dir.path, "--store", "sqlite"]);
    client = createClient({ address: server.address, source: "durability" });
    const stored = new Map<string, bigint>();
    for await (const event of client.queryAll({ patterns: ["durable.>"], limit: 1000 })) stored.set(event.id, event.sequence);
    const missing = [...acknowledged.keys()].filter((id) => !stored.has(id));
    expect(missing).toEqual([]);
    for (const [id, sequence] of acknowledged) expect(stored.get(id)).toBe(sequence);
    // Sequences stay dense and keep counting after the restart.
    const after = await client.publish({ type: "durable.item.added", id: "after-restart" });
    expect(after.sequence).toBe(BigInt(stored.size) + 1n);
  });
});
