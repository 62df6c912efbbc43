/**
 * The layout of the events in `events.db`: its tables and indexes, its
 * version, and the moves that bring a file written by an earlier version
 * to this one when it is opened. Consumer groups and schemas keep tables
 * of their own (`group-persistence.ts`, `schema-store.ts`).
 */
import type Database from "better-sqlite3";
import { Code, ProtobusError } from "@protobus/sdk";
import { TAG_TABLE, tagKey } from "./tag-index.js";

/**
 * Version of the layout, kept in `meta` as `schema_version`. 2: the tag
 * index holds keys, not the tags' text (`tag-index.ts`). 3: the
 * correlation index holds ids up to {@link CORRELATION_KEY_LENGTH}
 * characters.
 */
export const SCHEMA_VERSION = 3;

/**
 * Characters of a correlation id its index holds. Correlation ids are the
 * client's text, up to 1,024 characters by default: indexed whole, each
 * long one spilled to an overflow page of its own, and random ones put
 * ~9 KB on disk per event (1,000 events of 1 KB ids per request). Ids up to
 * this long (UUIDs, the SDK's UUIDv7s) are indexed whole and in order as
 * before; longer ones by their first characters, the lookup comparing the
 * whole id on the rows it finds. Ids that share a 128-character prefix
 * share an index entry's key: a read of one of them steps over the others.
 */
export const CORRELATION_KEY_LENGTH = 128;

/**
 * `WHERE` terms of the events table that hold for the events of the
 * correlation id bound to both `?`s, read through its index.
 */
export const HAS_CORRELATION = `correlation_id <> '' AND substr(correlation_id, 1, ${CORRELATION_KEY_LENGTH}) = substr(?, 1, ${CORRELATION_KEY_LENGTH}) AND correlation_id = ?`;

/** The event tables, created when missing. */
export const EVENT_TABLES = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  source TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  publish_time INTEGER NOT NULL,
  expire_time INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_id ON events (id);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, seq);
CREATE INDEX IF NOT EXISTS events_by_correlation_prefix ON events (substr(correlation_id, 1, ${CORRELATION_KEY_LENGTH}), seq) WHERE correlation_id <> '';
${TAG_TABLE}`;

/**
 * Creates what is missing of the layout in `db` (the file at `path`) and
 * moves a file of an earlier version to this one. A file of a later
 * version is refused with FAILED_PRECONDITION, before anything in it
 * changes: this server would not keep what that version's indexes hold.
 */
export function prepareEventLayout(db: Database.Database, path: string): void {
  const stored = hasTable(db, "meta") ? (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined) : undefined;
  if (stored !== undefined && Number(stored.value) > SCHEMA_VERSION) {
    throw new ProtobusError(
      Code.FAILED_PRECONDITION,
      `${path} has layout version ${stored.value}, written by a newer protobus server; this one reads up to version ${SCHEMA_VERSION}: serve it with that newer version`,
    );
  }
  db.exec(EVENT_TABLES);
  // Stores written before times were found by sequence (sequence-at-time.ts) kept an index on them.
  db.exec("DROP INDEX IF EXISTS events_by_time");
  // Stores of version 1 indexed the tags' text, and those up to version 2 the whole correlation ids.
  if (hasTable(db, "event_tags")) moveTagTable(db);
  db.exec("DROP INDEX IF EXISTS events_by_correlation");
  db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(SCHEMA_VERSION));
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/**
 * Moves the tag table of version 1 (`event_tags`, one row per tag's text
 * and sequence) to tag keys, in one transaction: each row becomes its
 * key's, and the old table is dropped. It reads the whole old table, once.
 */
function moveTagTable(db: Database.Database): void {
  db.function("protobus_tag_key", { deterministic: true }, (tag: unknown) => tagKey(String(tag)));
  db.transaction(() => {
    db.exec("INSERT OR IGNORE INTO event_tag_keys (tag_key, seq) SELECT protobus_tag_key(tag), seq FROM event_tags");
    db.exec("DROP TABLE event_tags");
  })();
}
