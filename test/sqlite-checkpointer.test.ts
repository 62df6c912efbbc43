/**
 * The SQLite store checkpoints its WAL on a thread of its own: the writer's
 * automatic checkpoint would otherwise copy pages into the database file,
 * and fsync it, on the server's thread every 1,000 pages. The writer keeps
 * its own checkpoint only as a safety net at 10,000 pages (~40 MB of WAL).
 * Here ~48 MB of events are appended in many commits: the thread's
 * checkpoints keep the WAL file far below that net the whole time, every
 * event is there after a reopen, and the WAL is gone after close.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { createSqliteBackend, type SqliteStorageBackend } from "@protobus/server";
import { tempDir, waitFor } from "./support/test-server.js";

const EVENTS = 48_000;
const PER_COMMIT = 200;
const PAYLOAD = Buffer.alloc(1000, 7);

function walBytes(dataDir: string): number {
  const wal = join(dataDir, "events.db-wal");
  return existsSync(wal) ? statSync(wal).size : 0;
}

describe("the sqlite store's checkpointer", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("checkpoints the WAL off the server's thread, keeping it far below the writer's safety net", { timeout: 120_000 }, async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    let store: SqliteStorageBackend = createSqliteBackend({ dataDir: dir.path });
    cleanups.push(() => store.close());

    let largestWal = 0;
    for (let n = 0; n < EVENTS; n += PER_COMMIT) {
      const batch = Array.from({ length: PER_COMMIT }, (_, i) =>
        Event.fromPartial({ id: `c-${n + i}`, source: "test/checkpointer", type: "checkpoint.item.added", specVersion: "1.0", data: PAYLOAD }),
      );
      await store.append(batch, { dedupeWindowMs: 0 });
      largestWal = Math.max(largestWal, walBytes(dir.path));
      // Commits spread over time, as a live publisher's are, so that the thread's interval passes.
      if (n % 4000 === 0) await new Promise((resolve) => setTimeout(resolve, 120));
    }
    // Without the thread the writer would let the WAL grow to ~40 MB before checkpointing.
    expect(largestWal).toBeLessThan(24 * 2 ** 20);
    await waitFor(() => store.checkpointStats().checkpoints > 0, 10_000, "a checkpoint");
    const stats = store.checkpointStats();
    expect(stats.failures).toBe(0);
    // ~48 MB were written; the thread copied most of it into the database file.
    expect(stats.checkpointedFrames * 4096).toBeGreaterThan(24 * 2 ** 20);

    await store.close();
    expect(walBytes(dir.path)).toBe(0);
    store = createSqliteBackend({ dataDir: dir.path });
    expect(await store.headSequence()).toBe(BigInt(EVENTS));
    const last = (await store.query({ fromSequence: BigInt(EVENTS), limit: 1 })).events;
    expect(last[0]?.event.id).toBe(`c-${EVENTS - 1}`);
    expect(Buffer.from(last[0]?.event.data ?? new Uint8Array()).equals(PAYLOAD)).toBe(true);
  });
});
