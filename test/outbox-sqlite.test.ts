/**
 * The transactional outbox on SQLite (better-sqlite3) with a real protobus
 * server: committed events reach the bus in commit order, rolled-back ones
 * never; one relay leads the table at a time; a relay killed with SIGKILL
 * (`protobus outbox relay --sqlite`) is replaced at once and nothing is
 * lost or duplicated.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { Event, ProtobusClient } from "@protobus/sdk";
import { createOutboxRelay, createSqliteOutbox, type OutboxRelay, type SqliteOutbox } from "@protobus/sdk/outbox";
import { CLI, startTestServer, tempDir, waitFor } from "./support/test-server.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  db: Database.Database;
  file: string;
  outbox: SqliteOutbox;
  client: ProtobusClient;
  address: string;
}

async function setup(): Promise<Setup> {
  const t = await startTestServer();
  cleanups.push(() => t.close());
  const dir = tempDir();
  cleanups.push(() => dir.dispose());
  const file = join(dir.path, "app.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  cleanups.push(() => db.close());
  db.exec("CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER NOT NULL)");
  const outbox = createSqliteOutbox({ source: "orders" });
  outbox.install(db);
  return { db, file, outbox, client: t.client, address: t.address };
}

function relayOf(s: Setup): OutboxRelay {
  const relay = createOutboxRelay({ store: s.outbox.relayStore(s.file), client: s.client, leaderRetryMs: 50, batchSize: 200 });
  cleanups.push(() => relay.stop());
  return relay;
}

async function busEvents(client: ProtobusClient, pattern: string): Promise<Event[]> {
  const events: Event[] = [];
  for await (const e of client.queryAll({ patterns: [pattern], limit: 1000 })) events.push(e);
  return events;
}

describe("SQLite outbox", () => {
  it("publishes exactly the committed transactions' events, in commit order", async () => {
    const s = await setup();
    const relay = relayOf(s);
    const placeOrder = s.db.transaction((n: number, fail: boolean) => {
      s.db.prepare("INSERT INTO orders (id, total) VALUES (?, ?)").run(`o-${n}`, n * 100);
      const ids = s.outbox.publish(s.db, [
        { type: "shop.order.placed", orderingKey: `o-${n}`, data: { n } },
        { type: "shop.stock.reserved", orderingKey: `o-${n}`, data: { n } },
      ]);
      if (fail) throw new Error("payment declined");
      return ids;
    });
    const committed: string[] = [];
    for (let n = 0; n < 1_000; n++) {
      try {
        committed.push(...placeOrder(n, n % 2 === 1));
      } catch {
        // Rolled back: neither the order nor its events exist.
      }
    }
    expect(s.db.prepare("SELECT count(*) AS c FROM orders").get()).toEqual({ c: 500 });
    await waitFor(async () => relay.stats.published === committed.length, 20_000, "the relay to publish 1,000 events");
    const events = await busEvents(s.client, "shop.>");
    expect(events.map((e) => e.id)).toEqual(committed);
    expect((await relay.backlog()).count).toBe(0);
    const rows = s.db.prepare(`SELECT count(*) AS c FROM ${s.outbox.table} WHERE sequence IS NOT NULL`).get();
    expect(rows).toEqual({ c: 1_000 });
  });

  it("lets one relay lead the table; another takes over when it stops", async () => {
    const s = await setup();
    const a = relayOf(s);
    const b = relayOf(s);
    const write = (from: number, count: number): void =>
      s.db.transaction(() => {
        for (let n = from; n < from + count; n++) s.outbox.publish(s.db, { type: "shop.pair.added", data: { n } });
      })();
    write(0, 1_000);
    await waitFor(() => a.stats.published + b.stats.published >= 1_000, 20_000, "1,000 published");
    const [leader, standby] = a.stats.leading ? [a, b] : [b, a];
    expect(leader.stats.published).toBe(1_000);
    expect(standby.stats.published).toBe(0);
    await leader.stop();
    write(1_000, 300);
    await waitFor(() => standby.stats.published === 300, 20_000, "the standby to take over");
    const events = await busEvents(s.client, "shop.pair.added");
    expect(events.map((e) => (JSON.parse(Buffer.from(e.data).toString()) as { n: number }).n)).toEqual(Array.from({ length: 1_300 }, (_, n) => n));
  });

  it("replaces a relay killed with SIGKILL at once and loses or repeats nothing", async () => {
    const s = await setup();
    const start = () => {
      const child = spawn(process.execPath, [CLI, "outbox", "relay", "--sqlite", s.file, "-a", s.address, "--batch-size", "100"], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      child.stderr?.resume();
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      return {
        kill: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
        },
      };
    };
    let relay = start();
    cleanups.push(() => relay.kill());
    const committed: string[] = [];
    const published = (): number => (s.db.prepare(`SELECT count(*) AS c FROM ${s.outbox.table} WHERE published_at IS NOT NULL`).get() as { c: number }).c;
    for (let round = 0; round < 3; round++) {
      s.db.transaction(() => {
        for (let n = 0; n < 1_000; n++) committed.push(s.outbox.publish(s.db, { type: "shop.crash.added", data: { round, n } }));
      })();
      const before = published();
      await waitFor(() => published() > before, 15_000, "the relay to publish");
      await relay.kill();
      relay = start();
    }
    await waitFor(() => published() === committed.length, 20_000, "every row to be published");
    const events = await busEvents(s.client, "shop.crash.added");
    expect(events.map((e) => e.id)).toEqual(committed);
  });
});
