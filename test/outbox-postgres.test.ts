/**
 * The transactional outbox on a real PostgreSQL with a real protobus
 * server: events written in transactions reach the bus if and only if their
 * transaction commits, in commit order per ordering key, each once, also
 * with two relays on one table.
 */
import { afterEach, describe, expect, it } from "vitest";
import type pg from "pg";
import type { Event, ProtobusClient } from "@protobus/sdk";
import { createOutboxRelay, createPostgresOutbox, type OutboxRelay, type PostgresOutbox, type PostgresQueryable } from "@protobus/sdk/outbox";
import { POSTGRES_URL, testPool, uniqueTable } from "./support/postgres.js";
import { startTestServer, waitFor } from "./support/test-server.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  pool: pg.Pool;
  outbox: PostgresOutbox;
  client: ProtobusClient;
  table: string;
}

async function setup(commitOrder?: "stamp" | "serialized"): Promise<Setup> {
  const t = await startTestServer();
  cleanups.push(() => t.close());
  const pool = testPool(12);
  cleanups.push(() => pool.end());
  const table = uniqueTable();
  const outbox = createPostgresOutbox({ table, source: "orders", ...(commitOrder !== undefined ? { commitOrder } : {}) });
  // Twice at once, through the pool: install is idempotent and safe concurrently.
  await Promise.all([outbox.install(pool), outbox.install(pool)]);
  cleanups.push(() => outbox.uninstall(pool));
  return { pool, outbox, client: t.client, table };
}

function relayOf(s: Setup, options: { batchSize?: number; pollIntervalMs?: number } = {}): OutboxRelay {
  const relay = createOutboxRelay({ store: s.outbox.relayStore(POSTGRES_URL), client: s.client, leaderRetryMs: 100, ...options });
  cleanups.push(() => relay.stop());
  return relay;
}

async function busEvents(client: ProtobusClient, pattern: string): Promise<Event[]> {
  const events: Event[] = [];
  for await (const e of client.queryAll({ patterns: [pattern], limit: 1000 })) events.push(e);
  return events;
}

const json = (e: Event): { key: string; n: number; i: number } => JSON.parse(Buffer.from(e.data).toString()) as { key: string; n: number; i: number };

/** A small seeded PRNG, so a failing run can be repeated. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** `db`, counting the queries sent through it. */
function counted(db: pg.PoolClient): { db: PostgresQueryable; queries: () => number } {
  let queries = 0;
  const query = (q: unknown, values?: unknown[]): Promise<{ rows: unknown[] }> => {
    queries += 1;
    return (db.query as (q: unknown, values?: unknown[]) => Promise<{ rows: unknown[] }>).call(db, q, values);
  };
  return { db: { query: query as PostgresQueryable["query"] }, queries: () => queries };
}

describe("PostgreSQL outbox", () => {
  it.each(["stamp", "serialized"] as const)("publishes in commit order, not insert order (commitOrder %s)", async (commitOrder) => {
    const s = await setup(commitOrder);
    const relay = relayOf(s);
    const early = await s.pool.connect();
    const late = await s.pool.connect();
    cleanups.push(() => early.release(), () => late.release());
    await early.query("BEGIN");
    const first = await s.outbox.publish(early, { type: "shop.order.placed", orderingKey: "o", data: { step: "inserted first" } });
    await late.query("BEGIN");
    const second = await s.outbox.publish(late, { type: "shop.order.placed", orderingKey: "o", data: { step: "committed first" } });
    await late.query("COMMIT");
    await waitFor(async () => (await busEvents(s.client, "shop.>")).length === 1, 10_000, "the committed event");
    // The open transaction's row is not published while it is open.
    await new Promise((r) => setTimeout(r, 200));
    expect((await busEvents(s.client, "shop.>")).map((e) => e.id)).toEqual([second]);
    await early.query("COMMIT");
    await waitFor(async () => (await busEvents(s.client, "shop.>")).length === 2, 10_000, "both events");
    expect((await busEvents(s.client, "shop.>")).map((e) => e.id)).toEqual([second, first]);
    // Marked once the server answered.
    await waitFor(() => relay.stats.published === 2, 10_000, "both rows marked");
    const rows = await s.pool.query(`SELECT event_id, sequence::text FROM ${s.outbox.table} ORDER BY commit_seq`);
    expect(rows.rows).toEqual([
      { event_id: second, sequence: "1" },
      { event_id: first, sequence: "2" },
    ]);
  });

  it("10,000 events in concurrent transactions, half rolled back: exactly the committed half arrives, in commit order per key", async () => {
    const s = await setup();
    await s.pool.query(`CREATE TABLE ${s.table}_counters (key text PRIMARY KEY, n int NOT NULL)`);
    cleanups.push(() => s.pool.query(`DROP TABLE IF EXISTS ${s.table}_counters`));
    const keys = Array.from({ length: 16 }, (_, k) => `customer-${k}`);
    await s.pool.query(`INSERT INTO ${s.table}_counters SELECT unnest($1::text[]), 0`, [keys]);
    const relay = relayOf(s, { batchSize: 500 });

    const random = prng(Number(process.env.OUTBOX_TEST_SEED ?? 17));
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    let transactions = 0;
    const worker = async (): Promise<void> => {
      const db = await s.pool.connect();
      try {
        while (transactions < 1_000) {
          transactions += 1;
          const key = keys[Math.floor(random() * keys.length)] as string;
          const commit = random() < 0.5;
          await db.query("BEGIN");
          // The counter row lock orders this key's transactions by commit.
          const n = ((await db.query(`UPDATE ${s.table}_counters SET n = n + 1 WHERE key = $1 RETURNING n`, [key])).rows[0] as { n: number }).n;
          const ids = await s.outbox.publish(
            db,
            Array.from({ length: 10 }, (_, i) => ({ type: "shop.line.added", orderingKey: key, data: { key, n, i } })),
          );
          if (random() < 0.3) await new Promise((r) => setTimeout(r, 1));
          await db.query(commit ? "COMMIT" : "ROLLBACK");
          for (const id of ids) (commit ? committed : rolledBack).add(id);
        }
      } finally {
        db.release();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(committed.size + rolledBack.size).toBe(10_000);
    expect(committed.size).toBeGreaterThan(4_000);
    expect(rolledBack.size).toBeGreaterThan(4_000);

    await waitFor(async () => (await relay.backlog()).count === 0 && relay.stats.published === committed.size, 25_000, "the relay to catch up");
    const events = await busEvents(s.client, "shop.line.added");
    expect(events).toHaveLength(committed.size);
    expect(new Set(events.map((e) => e.id))).toEqual(committed);
    for (const key of keys) {
      const order = events.filter((e) => e.orderingKey === key).map(json);
      for (let i = 1; i < order.length; i++) {
        const [a, b] = [order[i - 1]!, order[i]!];
        expect(b.n > a.n || (b.n === a.n && b.i === a.i + 1), `${key}: ${JSON.stringify(a)} then ${JSON.stringify(b)}`).toBe(true);
      }
    }
    // Every event keeps what the writer put in: source, correlation shared by its transaction.
    expect(events.every((e) => e.source === "orders" && e.correlationId !== "")).toBe(true);
    expect(relay.stats.lagMs).toBe(0);
  });

  it("publishAndCommit writes and commits in one query; quotes, backslashes and SQL in ids and keys arrive as written", async () => {
    const s = await setup();
    const relay = relayOf(s);
    await s.pool.query(`CREATE TABLE ${s.table}_orders (id text PRIMARY KEY)`);
    cleanups.push(() => s.pool.query(`DROP TABLE IF EXISTS ${s.table}_orders`));
    const db = await s.pool.connect();
    cleanups.push(() => db.release());
    const keys = ["o'1", "o\\'); DROP TABLE orders; --", "E'\\x00\\\\'", "naïve ✓ 𝄞", ""];
    const inputs = keys.map((key, i) => ({ id: `${key}#${i}`, type: "shop.order.placed", orderingKey: key, data: { i } }));
    await db.query("BEGIN");
    await db.query(`INSERT INTO ${s.table}_orders (id) VALUES ($1)`, ["o-1"]);
    const tx = counted(db);
    const ids = await s.outbox.publishAndCommit(tx.db, inputs);
    expect(tx.queries()).toBe(1);
    expect(ids).toEqual(inputs.map((e) => e.id));
    // Committed: another connection sees the business row and the outbox rows, texts as written.
    expect((await s.pool.query(`SELECT id FROM ${s.table}_orders`)).rows).toEqual([{ id: "o-1" }]);
    const rows = await s.pool.query(`SELECT event_id, event_type, ordering_key FROM ${s.outbox.table} ORDER BY id`);
    expect(rows.rows).toEqual(inputs.map((e) => ({ event_id: e.id, event_type: e.type, ordering_key: e.orderingKey })));
    await waitFor(() => relay.stats.published === inputs.length, 10_000, "the rows published");
    const events = await busEvents(s.client, "shop.>");
    expect(events.map((e) => [e.id, e.orderingKey, json(e).i])).toEqual(inputs.map((e) => [e.id, e.orderingKey, e.data.i]));
    // No events: the transaction is committed all the same.
    await db.query("BEGIN");
    await db.query(`INSERT INTO ${s.table}_orders (id) VALUES ($1)`, ["o-2"]);
    expect(await s.outbox.publishAndCommit(db, [])).toEqual([]);
    expect((await s.pool.query(`SELECT count(*)::int AS n FROM ${s.table}_orders`)).rows).toEqual([{ n: 2 }]);
  });

  it("publishAndCommit that fails commits nothing: a failed write leaves the transaction to roll back, a failed commit has ended it", async () => {
    const s = await setup();
    await s.pool.query(`CREATE TABLE ${s.table}_tree (id int PRIMARY KEY, parent int REFERENCES ${s.table}_tree (id) DEFERRABLE INITIALLY DEFERRED)`);
    cleanups.push(() => s.pool.query(`DROP TABLE IF EXISTS ${s.table}_tree`));
    const db = await s.pool.connect();
    cleanups.push(() => db.release());
    const event = { type: "shop.order.placed", data: { n: 1 } };
    const outboxRows = async (): Promise<number> => ((await s.pool.query(`SELECT count(*)::int AS n FROM ${s.outbox.table}`)).rows[0] as { n: number }).n;

    // The write fails (the transaction is already aborted): it stays open until rolled back.
    await db.query("BEGIN");
    await expect(db.query("SELECT 1 / 0")).rejects.toThrow(/division by zero/);
    await expect(s.outbox.publishAndCommit(db, event)).rejects.toThrow(/current transaction is aborted/);
    await expect(db.query("SELECT 1")).rejects.toThrow(/current transaction is aborted/);
    await db.query("ROLLBACK");

    // The commit fails (a deferred foreign key): the transaction has ended, rolled back.
    await db.query("BEGIN");
    await db.query(`INSERT INTO ${s.table}_tree (id, parent) VALUES (1, 99)`);
    await expect(s.outbox.publishAndCommit(db, event)).rejects.toThrow(/foreign key/);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${s.table}_tree`)).rows).toEqual([{ n: 0 }]);

    // A NUL in an id goes the parameter way and is refused there, as publish is.
    await db.query("BEGIN");
    await expect(s.outbox.publishAndCommit(db, { ...event, id: "a\0b" })).rejects.toThrow(/0x00/);
    await db.query("ROLLBACK");
    expect(await outboxRows()).toBe(0);

    // More than 1 MiB of envelopes: publish, then COMMIT.
    await db.query("BEGIN");
    const large = counted(db);
    const big = Array.from({ length: 3 }, (_, i) => ({ type: "shop.order.placed", data: Buffer.alloc(400_000, 97 + i) }));
    const ids = await s.outbox.publishAndCommit(large.db, big);
    expect(large.queries()).toBe(2);
    const stored = await s.pool.query(`SELECT event_id, length(envelope) > 400000 AS whole FROM ${s.outbox.table} ORDER BY id`);
    expect(stored.rows).toEqual(ids.map((id) => ({ event_id: id, whole: true })));
  });

  it("wakes an idle relay by NOTIFY, not by its poll", async () => {
    const s = await setup();
    const relay = relayOf(s, { pollIntervalMs: 60_000 });
    await relay.idle();
    // Let it settle into its wait.
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await s.outbox.publish(s.pool, { type: "shop.order.placed", data: { n: 1 } });
    await waitFor(() => relay.stats.published === 1, 10_000, "the row to be published");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("writes through prepared statements of a few rows, also across a reinstall of the table; preparedStatements: false prepares none", async () => {
    const s = await setup();
    const relay = relayOf(s);
    const db = await s.pool.connect();
    cleanups.push(() => db.release());
    const prepared = async (): Promise<string[]> =>
      ((await db.query("SELECT name FROM pg_prepared_statements ORDER BY name")).rows as Array<{ name: string }>).map((r) => r.name);
    const write = async (outbox: PostgresOutbox, count: number, from: number): Promise<void> => {
      await db.query("BEGIN");
      await outbox.publish(db, Array.from({ length: count }, (_, i) => ({ type: "shop.prepared.added", data: { n: from + i } })));
      await db.query("COMMIT");
    };
    await write(s.outbox, 1, 0);
    await write(s.outbox, 3, 1);
    await write(s.outbox, 1, 4);
    await write(s.outbox, 20, 5);
    const prefix = `protobus_outbox public.${s.table}`;
    // One statement per row count up to eight; a write of 20 rows is parsed each time.
    expect(await prepared()).toEqual([`${prefix} insert 1`, `${prefix} insert 3`]);
    await waitFor(() => relay.stats.published === 25, 10_000, "25 published");
    await relay.stop();
    // The table goes and comes back: the connection's statements are planned again against the new one.
    await s.outbox.uninstall(s.pool);
    await s.outbox.install(s.pool);
    await write(s.outbox, 1, 25);
    await write(s.outbox, 3, 26);
    const plain = createPostgresOutbox({ table: `${s.table}_plain`, source: "orders", preparedStatements: false });
    await plain.install(s.pool);
    cleanups.push(() => plain.uninstall(s.pool));
    await write(plain, 1, 29);
    await write(plain, 2, 30);
    expect(await prepared()).toEqual([`${prefix} insert 1`, `${prefix} insert 3`]);
    const again = relayOf(s);
    const plainRelay = createOutboxRelay({ store: plain.relayStore(POSTGRES_URL), client: s.client });
    cleanups.push(() => plainRelay.stop());
    await waitFor(() => again.stats.published === 4 && plainRelay.stats.published === 3, 10_000, "the rest published");
    // Each outbox's events in its order; the two relays' events interleave as they come.
    const ns = (await busEvents(s.client, "shop.prepared.added")).map((e) => json(e).n);
    expect([...ns].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, n) => n));
    expect(ns.filter((n) => n < 29)).toEqual(Array.from({ length: 29 }, (_, n) => n));
    expect(ns.filter((n) => n >= 29)).toEqual([29, 30, 31]);
  });

  it("two relays on one table publish each event once; the second takes over when the first stops", async () => {
    const s = await setup();
    const a = relayOf(s, { batchSize: 100 });
    const b = relayOf(s, { batchSize: 100 });
    const write = async (from: number, count: number): Promise<void> => {
      for (let t = from; t < from + count; t += 50) {
        const db = await s.pool.connect();
        try {
          await db.query("BEGIN");
          await s.outbox.publish(db, Array.from({ length: 50 }, (_, i) => ({ type: "shop.pair.added", data: { n: t + i } })));
          await db.query("COMMIT");
        } finally {
          db.release();
        }
      }
    };
    await write(0, 2_000);
    await waitFor(async () => a.stats.published + b.stats.published >= 2_000, 20_000, "2,000 published");
    expect([a.stats.leading, b.stats.leading].sort()).toEqual([false, true]);
    const [leader, standby] = a.stats.leading ? [a, b] : [b, a];
    expect(leader.stats.published).toBe(2_000);
    expect(standby.stats.published).toBe(0);
    await leader.stop();
    await write(2_000, 500);
    await waitFor(async () => standby.stats.published === 500, 20_000, "the standby to take over");
    const events = await busEvents(s.client, "shop.pair.added");
    expect(events).toHaveLength(2_500);
    expect(new Set(events.map((e) => e.id)).size).toBe(2_500);
    expect(events.map((e) => json(e).n)).toEqual(Array.from({ length: 2_500 }, (_, n) => n));
  });

  it("records a row the server refuses for good and goes on with the rest of its key", async () => {
    const s = await setup();
    const refused: string[] = [];
    const relay = createOutboxRelay({
      store: s.outbox.relayStore(POSTGRES_URL),
      client: s.client,
      onError: (_error, row) => row !== undefined && refused.push(row.eventId),
    });
    cleanups.push(() => relay.stop());
    const db = await s.pool.connect();
    cleanups.push(() => db.release());
    await db.query("BEGIN");
    const ids = await s.outbox.publish(db, [
      { type: "shop.order.placed", orderingKey: "k", data: { n: 1 } },
      { type: "Not A Type", orderingKey: "k", data: { n: 2 } },
      { type: "shop.order.placed", orderingKey: "k", data: { n: 3 } },
    ]);
    await db.query("COMMIT");
    await waitFor(async () => (await relay.backlog()).count === 0, 10_000, "the backlog to empty");
    expect(refused).toEqual([ids[1]]);
    expect((await busEvents(s.client, "shop.>")).map((e) => e.id)).toEqual([ids[0], ids[2]]);
    const rows = await s.pool.query(`SELECT event_id, sequence, error FROM ${s.outbox.table} ORDER BY id`);
    expect((rows.rows[1] as { error: string }).error).toMatch(/events\[0\]\.type/);
    expect(relay.stats).toMatchObject({ published: 2, failed: 1 });
  });
});
