/**
 * The SQLite schema store: schema versions and compatibility modes in the
 * same database file as the events. A registration reads the history, runs
 * the registry's check and inserts in one IMMEDIATE transaction, so two
 * registrations can never both pass against the same history.
 */
import type Database from "better-sqlite3";
import { Listeners } from "../listeners.js";
import { asCompatibilityMode } from "@protobus/sdk/internal";
import { registrationOutcome } from "../schema-registration.js";
import type {
  CompatibilityMode,
  RegistrationDecider,
  RegistrationOutcome,
  SchemaChangeListener,
  SchemaDraft,
  SchemaFormat,
  SchemaStore,
  StoredSchema,
} from "../schema-store.js";
import { sqliteError } from "./errors.js";

/** The tables, created when missing (a database from before the registry gains them on open). */
export const SCHEMA_STORE_TABLES = `
CREATE TABLE IF NOT EXISTS schemas (
  subject TEXT NOT NULL,
  version INTEGER NOT NULL,
  format TEXT NOT NULL,
  message_name TEXT NOT NULL,
  definition BLOB NOT NULL,
  create_time INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (subject, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schema_compatibility (subject TEXT PRIMARY KEY, mode TEXT NOT NULL) WITHOUT ROWID;
`;

interface SchemaRow {
  subject: string;
  version: bigint | number;
  format: string;
  message_name: string;
  definition: Buffer;
  create_time: bigint | number;
  deleted: bigint | number;
}

const COLUMNS = "subject, version, format, message_name, definition, create_time, deleted";
// The global mode is kept under a subject no event type or pattern can have.
const GLOBAL = "";

function fromRow(row: SchemaRow): StoredSchema {
  return {
    subject: row.subject,
    version: Number(row.version),
    format: row.format as SchemaFormat,
    messageName: row.message_name,
    definition: new Uint8Array(row.definition),
    createTime: new Date(Number(row.create_time)),
    deleted: Number(row.deleted) !== 0,
  };
}

/** The SQLite implementation of {@link SchemaStore}, on a database the backend opened. */
export class SqliteSchemaStore implements SchemaStore {
  readonly #db: Database.Database;
  readonly #notifier = new Listeners<[subject: string]>();
  readonly #now: () => Date;
  readonly #allVersions: Database.Statement;
  readonly #oneVersion: Database.Statement;
  readonly #latestLive: Database.Statement;
  readonly #insert: Database.Statement;
  readonly #markDeleted: Database.Statement;
  readonly #getMode: Database.Statement;
  readonly #setMode: Database.Statement;
  readonly #clearMode: Database.Statement;

  constructor(db: Database.Database, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
    try {
      db.exec(SCHEMA_STORE_TABLES);
      this.#allVersions = db.prepare(`SELECT ${COLUMNS} FROM schemas WHERE subject = ? ORDER BY version`);
      this.#oneVersion = db.prepare(`SELECT ${COLUMNS} FROM schemas WHERE subject = ? AND version = ?`);
      this.#latestLive = db.prepare(`SELECT ${COLUMNS} FROM schemas WHERE subject = ? AND deleted = 0 ORDER BY version DESC LIMIT 1`);
      this.#insert = db.prepare(`INSERT INTO schemas (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0)`);
      this.#markDeleted = db.prepare("UPDATE schemas SET deleted = 1 WHERE subject = ? AND version = ?");
      this.#getMode = db.prepare("SELECT mode FROM schema_compatibility WHERE subject = ?");
      this.#setMode = db.prepare(
        "INSERT INTO schema_compatibility (subject, mode) VALUES (?, ?) ON CONFLICT (subject) DO UPDATE SET mode = excluded.mode",
      );
      this.#clearMode = db.prepare("DELETE FROM schema_compatibility WHERE subject = ?");
    } catch (error) {
      throw sqliteError("open schemas", error);
    }
  }

  #mode(subject: string): CompatibilityMode | undefined {
    return asCompatibilityMode((this.#getMode.get(subject) as { mode: string } | undefined)?.mode);
  }

  async register<V>(subject: string, draft: SchemaDraft, decide: RegistrationDecider<V>): Promise<RegistrationOutcome<V>> {
    const run = this.#db.transaction((): RegistrationOutcome<V> => {
      const all = (this.#allVersions.all(subject) as SchemaRow[]).map(fromRow);
      const decision = decide({
        versions: all.filter((s) => !s.deleted),
        subjectMode: this.#mode(subject),
        globalMode: this.#mode(GLOBAL),
      });
      const outcome = registrationOutcome(subject, all, draft, decision, this.#now);
      if (outcome.kind !== "inserted") return outcome;
      const { schema } = outcome;
      this.#insert.run(subject, schema.version, schema.format, schema.messageName, Buffer.from(schema.definition), schema.createTime.getTime());
      return outcome;
    });
    let outcome: RegistrationOutcome<V>;
    try {
      outcome = run.immediate();
    } catch (error) {
      throw sqliteError("register schema", error);
    }
    if (outcome.kind === "inserted") this.#notifier.notify(subject);
    return outcome;
  }

  async get(subject: string, version?: number): Promise<StoredSchema | undefined> {
    try {
      const row = (version === undefined ? this.#latestLive.get(subject) : this.#oneVersion.get(subject, version)) as SchemaRow | undefined;
      return row === undefined ? undefined : fromRow(row);
    } catch (error) {
      throw sqliteError("get schema", error);
    }
  }

  async versions(subject: string, options: { readonly includeDeleted?: boolean } = {}): Promise<StoredSchema[]> {
    try {
      const all = (this.#allVersions.all(subject) as SchemaRow[]).map(fromRow);
      return options.includeDeleted === true ? all : all.filter((s) => !s.deleted);
    } catch (error) {
      throw sqliteError("list schema versions", error);
    }
  }

  async list(options: { readonly includeDeleted?: boolean } = {}): Promise<StoredSchema[]> {
    try {
      // Per subject: the newest live version, else (when asked) the newest deleted one.
      const rows = this.#db
        .prepare(
          `SELECT ${COLUMNS} FROM schemas s WHERE version = (
             SELECT max(version) FROM schemas t WHERE t.subject = s.subject
               AND (t.deleted = 0 OR (? AND NOT EXISTS (SELECT 1 FROM schemas u WHERE u.subject = s.subject AND u.deleted = 0))))
           ORDER BY subject`,
        )
        .all(options.includeDeleted === true ? 1 : 0) as SchemaRow[];
      return rows.map(fromRow);
    } catch (error) {
      throw sqliteError("list schemas", error);
    }
  }

  async softDelete(subject: string, version: number): Promise<StoredSchema | undefined> {
    let row: SchemaRow | undefined;
    try {
      this.#markDeleted.run(subject, version);
      row = this.#oneVersion.get(subject, version) as SchemaRow | undefined;
    } catch (error) {
      throw sqliteError("delete schema", error);
    }
    if (row === undefined) return undefined;
    this.#notifier.notify(subject);
    return fromRow(row);
  }

  async getCompatibility(subject: string | undefined): Promise<CompatibilityMode | undefined> {
    try {
      return this.#mode(subject ?? GLOBAL);
    } catch (error) {
      throw sqliteError("get compatibility", error);
    }
  }

  async setCompatibility(subject: string | undefined, mode: CompatibilityMode | undefined): Promise<void> {
    try {
      if (mode === undefined) this.#clearMode.run(subject ?? GLOBAL);
      else this.#setMode.run(subject ?? GLOBAL, mode);
    } catch (error) {
      throw sqliteError("set compatibility", error);
    }
    this.#notifier.notify(subject ?? "");
  }

  onChange(listener: SchemaChangeListener): () => void {
    return this.#notifier.add(listener);
  }

  /** Drops every listener. */
  close(): void {
    this.#notifier.clear();
  }
}
