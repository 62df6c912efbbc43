/**
 * `protobus outbox relay|install|status`: runs a transactional-outbox relay
 * against a PostgreSQL (or SQLite) outbox table, outside the application
 * that writes it. Several relays may run on one table: one publishes, the
 * others stand by and take over when it goes away.
 */
import { Option, type Command } from "commander";
import { createClient } from "@protobus/sdk";
import type { OutboxStore } from "@protobus/sdk/outbox";
import { parseDurationMs } from "../config.js";
import { createLogger } from "../logger.js";
import { addressOption, connection, type Io, printJson } from "./cli-support.js";

interface OutboxFlags {
  readonly postgres?: string;
  readonly sqlite?: string;
  readonly table: string;
  readonly schema: string;
}

/** The outbox the flags name, with what to install it and its relay store. */
async function outboxOf(flags: OutboxFlags): Promise<{ install(): Promise<void>; store(): OutboxStore; close(): Promise<void> }> {
  if ((flags.postgres === undefined) === (flags.sqlite === undefined)) {
    throw new Error("name exactly one outbox database: --postgres <url> or --sqlite <file>");
  }
  const { createPostgresOutbox, createSqliteOutbox } = await import("@protobus/sdk/outbox");
  if (flags.postgres !== undefined) {
    const url = flags.postgres;
    const outbox = createPostgresOutbox({ table: flags.table, schema: flags.schema });
    const pg = (await import("pg")).default;
    return {
      async install() {
        const db = new pg.Client({ connectionString: url });
        await db.connect();
        try {
          await outbox.install(db);
        } finally {
          await db.end();
        }
      },
      store: () => outbox.relayStore(url),
      close: async () => undefined,
    };
  }
  const file = flags.sqlite as string;
  const outbox = createSqliteOutbox({ table: flags.table });
  const Database = (await import("better-sqlite3")).default;
  return {
    async install() {
      const db = new Database(file, { timeout: 5_000 });
      try {
        db.pragma("journal_mode = WAL");
        outbox.install(db);
      } finally {
        db.close();
      }
    },
    store: () => outbox.relayStore(file),
    close: async () => undefined,
  };
}

function outboxOptions(command: Command): Command {
  return command
    .addOption(new Option("--postgres <url>", "PostgreSQL connection string of the outbox database").env("PROTOBUS_OUTBOX_POSTGRES"))
    .option("--sqlite <file>", "SQLite database file of the outbox")
    .option("--table <name>", "outbox table", "protobus_outbox")
    .option("--schema <name>", "PostgreSQL schema of the table", "public");
}

/** Adds the `outbox` commands. */
export function registerOutboxCommands(program: Command, io: Io): void {
  const outbox = program.command("outbox").description("transactional outbox: relay committed outbox rows to the bus");

  outboxOptions(outbox.command("install").description("create the outbox table, its sequence and trigger (idempotent)")).action(
    async (o: OutboxFlags) => {
      const target = await outboxOf(o);
      await target.install();
      io.out(`outbox table ${o.postgres !== undefined ? `${o.schema}.` : ""}${o.table} is installed`);
    },
  );

  outboxOptions(outbox.command("status").description("print how many rows wait and how old the oldest is"))
    .option("--json", "print as JSON")
    .action(async (o: OutboxFlags & { json?: boolean }) => {
      const store = (await outboxOf(o)).store();
      try {
        const backlog = await store.backlog();
        const lagMs = backlog.oldest === undefined ? 0 : Math.max(0, Date.now() - backlog.oldest.getTime());
        if (o.json === true) io.out(printJson({ table: store.name, pending: backlog.count, lagMs }));
        else io.out(`${store.name}: ${backlog.count} rows waiting, oldest ${(lagMs / 1000).toFixed(3)} s old`);
      } finally {
        await store.close();
      }
    });

  outboxOptions(outbox.command("relay").description("publish committed outbox rows in commit order until stopped (SIGINT/SIGTERM)"))
    .addOption(addressOption())
    .option("--batch-size <n>", "rows read and published per round", (v) => Number(v), 1_000)
    .option("--poll-interval <duration>", "longest wait for new rows without a notification", "1s")
    .option("--no-install", "do not create the table when it is missing")
    .option("--stats-interval <duration>", "how often to log published rows and the outbox lag", "10s")
    .addOption(new Option("--log-level <level>", "log level").choices(["debug", "info", "warn", "error"]).default("info"))
    .action(async (o: OutboxFlags & Record<string, unknown>) => {
      const logger = createLogger({ level: o.logLevel as "info", format: "text" });
      const target = await outboxOf(o);
      if (o.install !== false) await target.install();
      const client = createClient({ ...connection(o), source: "protobus-outbox" });
      const { createOutboxRelay } = await import("@protobus/sdk/outbox");
      const relay = createOutboxRelay({
        store: target.store(),
        client,
        batchSize: o.batchSize as number,
        pollIntervalMs: parseDurationMs(o.pollInterval as string, "--poll-interval"),
        onError: (error, row) =>
          row === undefined ? logger.warn("outbox relay error; retrying", { error }) : logger.error("outbox row refused", { row: row.id, eventId: row.eventId, error }),
      });
      relay.publisher.circuitBreaker?.on({
        stateChanged: (change) => logger.warn("publish circuit changed", { from: change.previousState, to: change.state }),
      });
      logger.info("outbox relay started", { address: o.address as string, table: o.postgres !== undefined ? `${o.schema}.${o.table}` : o.table });
      let wasLeading = false;
      const report = setInterval(
        () => {
          const s = relay.stats;
          if (s.leading !== wasLeading) logger.info(s.leading ? "outbox relay leads the table" : "outbox relay stands by (another relay leads)");
          wasLeading = s.leading;
          logger.info("outbox relay stats", { leading: s.leading, published: s.published, failed: s.failed, lagMs: s.lagMs });
        },
        parseDurationMs(o.statsInterval as string, "--stats-interval"),
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          logger.info(`${signal} received: stopping the outbox relay`);
          clearInterval(report);
          relay
            .stop()
            .catch((error: unknown) => logger.error("stopping the relay failed", { error }))
            .finally(() => {
              void client.close();
              resolve();
            });
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await target.close();
    });
}
