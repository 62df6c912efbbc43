/**
 * `protobus recover`: copies what can be read from a damaged SQLite store
 * into a new `events.db` (see `storage/sqlite/recover.ts`). The server must
 * be stopped; the data directory comes from `--data-dir`, or the same
 * environment and protobus.yaml `serve` reads.
 */
import type { Command } from "commander";
import { loadConfig } from "../config.js";
import type { LostRange } from "../storage/sqlite/recover.js";
import { printJson, type Io } from "./cli-support.js";

function ranges(lost: readonly LostRange[]): string {
  return lost.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(", ");
}

/** Adds the `recover` command. */
export function registerRecoverCommand(program: Command, io: Io): void {
  program
    .command("recover")
    .description("copy what can be read from a damaged sqlite store into a new events.db (stop the server first)")
    .option("--data-dir <dir>", "directory of the sqlite store [env PROTOBUS_DATA_DIR] (default ./.protobus)")
    .option("-c, --config <file>", "config file [env PROTOBUS_CONFIG] (default ./protobus.yaml when present)")
    .option("--json", "print the report as JSON")
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const { recoverSqliteStore } = await import("../storage/sqlite/recover.js");
      const config = loadConfig({
        flags: { "data-dir": o.dataDir as string | undefined },
        ...(o.config !== undefined ? { configFile: o.config as string } : {}),
      });
      const report = recoverSqliteStore({ dataDir: config.dataDir });
      if (o.json === true) {
        io.out(printJson(report));
        return;
      }
      const lostCount = report.lost.reduce((n, r) => n + r.to - r.from + 1, 0);
      io.out(`recovered ${report.events} events (newest sequence ${report.headSequence}) into ${report.recoveredFile}`);
      io.out(lostCount === 0 ? "no event was lost" : `lost ${lostCount} events on damaged pages: sequences ${ranges(report.lost)}`);
      for (const [table, t] of Object.entries(report.tables)) {
        io.out(`  ${table}: ${t.copied} rows${t.unreadable ? " (some rows were on damaged pages and are lost)" : ""}`);
      }
      io.out(`the damaged file is kept as ${report.damagedFile}`);
    });
}
