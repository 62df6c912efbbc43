/** The sqlite backend as the registry offers it: its settings, their defaults and keys. */
import type { BackendDescriptor } from "../backend-descriptor.js";
import { defineConfigKeys } from "../../config-key.js";
import { oneOf, text } from "../../config-parsers.js";
import { createSqliteBackend } from "./index.js";
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
  ]),
  defaults: { dataDir: "./.protobus", sqliteSynchronous: "normal", sqliteIntegrityCheck: "quick" },
  create: async (settings) =>
    createSqliteBackend({
      ...pickGroupMemory(settings),
      dataDir: settings.dataDir,
      synchronous: settings.sqliteSynchronous,
      integrityCheck: settings.sqliteIntegrityCheck,
    }),
};
