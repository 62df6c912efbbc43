/** The sqlite backend as the registry offers it: its settings, their defaults and keys. */
import type { BackendDescriptor } from "../backend-descriptor.js";
import { defineConfigKeys } from "../../config-key.js";
import { integer, oneOf, parseDurationMs, text } from "../../config-parsers.js";
import { pickGroupMemory } from "../groups/engine-group-store.js";
import { INTEGRITY_CHECKS, type IntegrityCheck } from "./integrity.js";

/** The settings of the sqlite backend. */
export interface SqliteSettings {
  /** Where the sqlite backend keeps its file. */
  readonly dataDir: string;
  /** sqlite durability: `normal` survives a process crash, `full` a machine crash. */
  readonly sqliteSynchronous: "normal" | "full";
  /** How the sqlite file is checked before it is served: `quick`, `full` or `off`. */
  readonly sqliteIntegrityCheck: IntegrityCheck;
  /** Events older than this, in ms, are deleted; 0 keeps them forever. */
  readonly sqliteMaxAgeMs: number;
  /** The oldest events are deleted while the file's pages in use hold more bytes than this; 0: no bound. */
  readonly sqliteMaxBytes: number;
}

/** `--store sqlite`, the default. */
export const sqliteDescriptor: BackendDescriptor<"sqlite", SqliteSettings> = {
  name: "sqlite",
  configKeys: defineConfigKeys([
    { key: "dataDir", yaml: "data-dir", parse: text, description: "directory of the sqlite store", path: true },
    {
      key: "sqliteSynchronous",
      yaml: "sqlite-synchronous",
      parse: oneOf(["normal", "full"] as const),
      description: "normal: a commit survives a server crash; full: also a machine crash (slower)",
    },
    {
      key: "sqliteIntegrityCheck",
      yaml: "sqlite-integrity-check",
      parse: oneOf(INTEGRITY_CHECKS),
      description: "check of the sqlite file before it is served: quick (PRAGMA quick_check), full (integrity_check, slower) or off",
    },
    {
      key: "sqliteMaxAgeMs",
      yaml: "sqlite-max-age",
      parse: parseDurationMs,
      description: "the sqlite store deletes events older than this (7d, 12h, 30m; 0 keeps them forever)",
    },
    {
      key: "sqliteMaxBytes",
      yaml: "sqlite-max-bytes",
      parse: integer(0, Number.MAX_SAFE_INTEGER),
      description: "the sqlite store deletes its oldest events while its file holds more than this many bytes (0: no bound)",
    },
  ]),
  defaults: { dataDir: "./.protobus", sqliteSynchronous: "normal", sqliteIntegrityCheck: "quick", sqliteMaxAgeMs: 0, sqliteMaxBytes: 0 },
  // The store's code (and better-sqlite3) is loaded when a store is created, not with the configuration.
  create: async (settings) =>
    (await import("./index.js")).createSqliteBackend({
      ...pickGroupMemory(settings),
      dataDir: settings.dataDir,
      synchronous: settings.sqliteSynchronous,
      integrityCheck: settings.sqliteIntegrityCheck,
      retention: { maxAgeMs: settings.sqliteMaxAgeMs, maxBytes: settings.sqliteMaxBytes },
      ...(settings.logger !== undefined ? { logger: settings.logger } : {}),
    }),
};
