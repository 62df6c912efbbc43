/**
 * The SQLite store checkpoints its WAL on a thread of its own: the writer's
 * automatic checkpoint would otherwise copy pages into the database file,
 * and fsync it, on the server's thread every 1,000 pages. The writer keeps
 * its own checkpoint only as a safety net at 10,000 pages (~40 MB of WAL).
 * Here ~48 MB of events are appended in many commits: the thread's
 * checkpoints keep the WAL file far below that net the whole time, every
 * event is there after a reopen, and the WAL is gone after close.
 *
 * A live publisher commits without pause (a commit every millisecond or
 * so), and the WAL only restarts from its beginning when every frame was
 * copied as the next commit begins; the second case holds the store to
 * such a stream and checks that the WAL still restarts, held commits
 * included, instead of growing to the writer's safety net.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Event } from "@protobus/sdk/proto";
import { createSqliteBackend, type SqliteStorageBackend } from "@protobus/server";
import { tempDir, waitFor } from "./support/test-server.js";
import { FALLBACK_CHECKPOINT_PAGES, MAX_HOLD_MS, RESTART_FRAMES } from "../server/src/storage/sqlite/checkpointer.js";

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

  it("restarts the WAL under a steady stream of small commits, holding commits only briefly", { timeout: 60_000 }, async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const store: SqliteStorageBackend = createSqliteBackend({ dataDir: dir.path });
    cleanups.push(() => store.close());
    const payload = Buffer.alloc(3000, 5);
    let sent = 0;
    let largestWal = 0;
    const appends: Promise<unknown>[] = [];
    const started = performance.now();
    // Two events every millisecond for 4 s, never awaiting a commit: ~25 MB of WAL a second.
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        for (let i = 0; i < 2; i++) {
          const n = sent++;
          appends.push(
            store.append([Event.fromPartial({ id: `s-${n}`, source: "test/checkpointer", type: "checkpoint.item.added", specVersion: "1.0", data: payload })], {
              dedupeWindowMs: 0,
            }),
          );
        }
        largestWal = Math.max(largestWal, walBytes(dir.path));
        if (performance.now() - started < 4000) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    await Promise.all(appends);
    const stats = store.checkpointStats();
    expect(stats.failures).toBe(0);
    // The WAL went past the restart mark and was restarted, each time by a hold,
    // which held commits for a checkpoint's time (bounded by MAX_HOLD_MS; timers may fire late).
    expect(stats.holds).toBeGreaterThan(0);
    expect(stats.heldMs).toBeGreaterThan(0);
    expect(stats.heldMs / stats.holds).toBeLessThan(10 * MAX_HOLD_MS);
    expect(stats.checkpointedFrames).toBeGreaterThan(RESTART_FRAMES);
    // Without holds it grows to the safety net (~40 MB) and the writer checkpoints on the server's thread;
    // with them, to the restart mark and what was written during the checkpoint before the hold.
    expect(largestWal).toBeLessThan(0.7 * FALLBACK_CHECKPOINT_PAGES * 4096);
    expect(await store.headSequence()).toBe(BigInt(sent));
  });
});
