/**
 * @protobus/sdk/outbox: the transactional outbox. An event is written into
 * an outbox table in the same database transaction as the business change;
 * a relay publishes the committed rows, in commit order, through a batching
 * publisher and marks them sent. PostgreSQL (`pg`) and SQLite
 * (`better-sqlite3`) are optional peer dependencies: install the one you use.
 */
export { createPostgresOutbox } from "./postgres-outbox.js";
export type { PostgresConnection, PostgresOutbox, PostgresOutboxOptions, PostgresQueryable } from "./postgres-outbox.js";
export { createSqliteOutbox } from "./sqlite-outbox.js";
export type { SqliteDatabase, SqliteOutbox, SqliteOutboxOptions, SqliteRelayStoreOptions, SqliteStatement } from "./sqlite-outbox.js";
export { createOutboxRelay } from "./relay.js";
export type { OutboxRelay, OutboxRelayOptions, OutboxRelayStats } from "./relay.js";
export type { OutboxBacklog, OutboxOutcome, OutboxRow, OutboxStore } from "./outbox-store.js";
