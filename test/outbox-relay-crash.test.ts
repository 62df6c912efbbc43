/**
 * `protobus outbox relay` as a child process, killed with SIGKILL at random
 * points while transactions keep writing the outbox, and the protobus
 * server killed and restarted once too: every committed event reaches the
 * bus exactly once, in commit order per key (the server deduplicates a row
 * published again by its event id).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type Event } from "@protobus/sdk";
import { createPostgresOutbox } from "@protobus/sdk/outbox";
import { freePort } from "./support/free-port.js";
import { POSTGRES_URL, testPool, uniqueTable } from "./support/postgres.js";
import { CLI, spawnServer, tempDir, waitFor, type ServerProcess } from "./support/test-server.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

interface RelayProcess {
  readonly child: ChildProcess;
  output(): string;
  kill(): Promise<void>;
}

function startRelay(table: string, address: string): RelayProcess {
  const child = spawn(
    process.execPath,
    [CLI, "outbox", "relay", "--postgres", POSTGRES_URL, "--table", table, "-a", address, "--poll-interval", "200ms", "--batch-size", "200"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

const seeds = (process.env.OUTBOX_CRASH_SEEDS ?? "1,2").split(",").map(Number);

describe("outbox relay killed with SIGKILL", () => {
  for (const seed of seeds) {
    it(`resumes without loss or duplicates (seed ${seed})`, async () => {
      const random = prng(seed);
      const dir = tempDir();
      cleanups.push(() => dir.dispose());
      const port = await freePort();
      const serverArgs = ["--data-dir", dir.path, "--store", "sqlite"];
      let server: ServerProcess = await spawnServer(serverArgs, {}, port);
      cleanups.push(() => server.stop("SIGKILL"));
      const pool = testPool(4);
      cleanups.push(() => pool.end());
      const table = uniqueTable("outbox_crash");
      const outbox = createPostgresOutbox({ table });
      await outbox.install(await pool.connect().then((c) => (cleanups.push(() => c.release()), c)));
      cleanups.push(() => outbox.uninstall(pool));

      let relay = startRelay(table, server.address);
      cleanups.push(() => relay.kill());

      const committed: string[] = [];
      const keys = ["a", "b", "c", "d"];
      let writing = true;
      const writer = (async () => {
        const db = await pool.connect();
        try {
          for (let t = 0; t < 150; t++) {
            const key = keys[t % keys.length] as string;
            await db.query("BEGIN");
            const ids = await outbox.publish(
              db,
              Array.from({ length: 20 }, (_, i) => ({ type: "crash.row.added", orderingKey: key, data: { t, i } })),
            );
            if (t % 7 === 3) {
              await db.query("ROLLBACK");
            } else {
              await db.query("COMMIT");
              committed.push(...ids);
            }
            await new Promise((r) => setTimeout(r, 10 + random() * 20));
          }
        } finally {
          db.release();
          writing = false;
        }
      })();

      const count = async (where: string): Promise<number> =>
        Number(((await pool.query(`SELECT count(*)::int AS n FROM ${outbox.table} WHERE ${where}`)).rows[0] as { n: number }).n);
      // Kill the relay at random points while it publishes and rows keep coming; once, the server too.
      let kills = 0;
      let killedWhileBusy = 0;
      while (writing || kills < 3) {
        const before = await count("published_at IS NOT NULL");
        await waitFor(async () => (await count("published_at IS NOT NULL")) > before || (!writing && (await count("published_at IS NULL")) === 0), 15_000, `the relay to publish\n${relay.output()}`);
        await new Promise((r) => setTimeout(r, random() * 150));
        // Kill while committed rows wait to be published, if the writer is
        // still at it: the relay keeps up within milliseconds, so the moment
        // is looked for, not hoped for.
        const busyBy = Date.now() + 2_000;
        let pending = await count("published_at IS NULL");
        while (pending === 0 && writing && Date.now() < busyBy) pending = await count("published_at IS NULL");
        if (pending > 0) killedWhileBusy += 1;
        await relay.kill();
        kills += 1;
        if (kills === 2) {
          await server.stop("SIGKILL");
          server = await spawnServer(serverArgs, {}, port);
        }
        relay = startRelay(table, server.address);
      }
      await writer;

      const client = createClient({ address: server.address });
      cleanups.push(() => client.close());
      await waitFor(async () => (await count("published_at IS NULL")) === 0, 20_000, `the relay to drain the outbox\n${relay.output()}`);

      const events: Event[] = [];
      for await (const e of client.queryAll({ patterns: ["crash.>"], limit: 1000 })) events.push(e);
      expect(kills).toBeGreaterThanOrEqual(3);
      expect(killedWhileBusy).toBeGreaterThanOrEqual(1);
      expect(events.map((e) => e.id).sort()).toEqual([...committed].sort());
      for (const key of keys) {
        const order = events.filter((e) => e.orderingKey === key).map((e) => JSON.parse(Buffer.from(e.data).toString()) as { t: number; i: number });
        const expected = [...order].sort((x, y) => x.t - y.t || x.i - y.i);
        expect(order).toEqual(expected);
      }
      // The table says where each went.
      const rows = await pool.query(`SELECT event_id, sequence::text AS sequence FROM ${outbox.table} WHERE sequence IS NOT NULL`);
      const bySequence = new Map(events.map((e) => [e.id, e.sequence.toString()]));
      for (const row of rows.rows as Array<{ event_id: string; sequence: string }>) expect(row.sequence).toBe(bySequence.get(row.event_id));
    });
  }
});
