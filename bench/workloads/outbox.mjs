// The transactional outbox end to end on PostgreSQL: `writers` loops, each
// committing a transaction that inserts a business row and its event.
// Mode `outbox`: the event goes into the outbox table in the transaction
// (`publishAndCommit`: its row and the COMMIT in one round trip) and
// a relay in this process publishes committed rows (the counter is what the
// relay got stored on the server). Mode `naive`: the loop commits the row,
// then awaits a unary publish of the event (what an application without an
// outbox does; the counter is acknowledged publishes).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createClient } from "@protobus/sdk";
import { createOutboxRelay, createPostgresOutbox } from "@protobus/sdk/outbox";
import { EVENT_TYPE, payload } from "../lib/event-shape.mjs";

/** The PostgreSQL the outbox scenarios use. */
export const BENCH_POSTGRES = process.env.PROTOBUS_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";

export async function start({ address, writers = 16, mode = "outbox" }) {
  const suffix = `${process.pid}_${randomBytes(3).toString("hex")}`;
  const orders = `bench_orders_${suffix}`;
  const pool = new pg.Pool({ connectionString: BENCH_POSTGRES, max: writers + 2 });
  await pool.query(`CREATE TABLE ${orders} (id bigserial PRIMARY KEY, total int NOT NULL)`);
  const outbox = createPostgresOutbox({ table: `bench_outbox_${suffix}`, source: "bench/loadgen" });
  await outbox.install(pool);
  const client = createClient({ address, source: "bench/loadgen", ...(mode === "naive" ? { batching: false } : {}) });
  const relay = mode === "outbox" ? createOutboxRelay({ store: outbox.relayStore(BENCH_POSTGRES), client }) : undefined;
  const data = payload();
  let acked = 0;
  let running = true;
  const loops = Array.from({ length: writers }, async () => {
    const db = await pool.connect();
    try {
      while (running) {
        await db.query("BEGIN");
        await db.query(`INSERT INTO ${orders} (total) VALUES ($1)`, [42]);
        if (relay !== undefined) {
          // The event's row and the COMMIT in one round trip.
          await outbox.publishAndCommit(db, { type: EVENT_TYPE, data });
        } else {
          await db.query("COMMIT");
          await client.publish({ type: EVENT_TYPE, data });
          acked += 1;
        }
      }
    } finally {
      db.release();
    }
  });
  return {
    count: () => (relay !== undefined ? relay.stats.published : acked),
    async stop() {
      running = false;
      await Promise.all(loops);
      await relay?.stop();
      client.close();
      await outbox.uninstall(pool).catch(() => undefined);
      await pool.query(`DROP TABLE IF EXISTS ${orders}`).catch(() => undefined);
      await pool.end();
    },
  };
}
