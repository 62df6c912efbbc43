/**
 * The transactional outbox on PostgreSQL (node-postgres, `pg`, an optional
 * peer dependency): `publish(tx, event)` inserts the event into the outbox
 * table inside the caller's transaction; a relay publishes committed rows
 * in commit order.
 *
 * Commit order: a deferred constraint trigger runs as each writing
 * transaction commits and stamps its rows with one number from a sequence,
 * taken at that moment; the relay publishes by stamp, then by insertion
 * within a transaction. Ids from `bigserial` only say in which order rows
 * were inserted: a long transaction's first row would overtake a shorter
 * transaction that committed before it. Transactions that conflict (they
 * update the same rows, as writes about one entity do) commit one after
 * the other, so their stamps follow their commit order exactly; for
 * transactions that share nothing, stamps follow the order in which their
 * commits began. `commitOrder: "serialized"` makes stamps follow commit
 * completion exactly for every transaction, by holding an advisory lock
 * from the stamp to the end of the commit, at the price of committing
 * outbox-writing transactions one at a time (no group commit).
 *
 * Waking the relay: a relay that found nothing to publish holds an advisory
 * lock while it `LISTEN`s; a committing transaction that cannot take that
 * lock in shared mode knows the relay waits and `NOTIFY`s it. While the
 * relay is busy, commits send no notification: NOTIFY makes committing
 * transactions take one database-wide lock in turn, which would cost a
 * busy outbox its parallel commits.
 *
 * One relay at a time: a relay leads the table while it holds a
 * session-level advisory lock on its own connection; others wait and take
 * over when that connection ends (a stopped or killed relay).
 */
import { Buffer } from "node:buffer";
import type { EventInput } from "../event-input.js";
import { outboxEnvelopes, type OutboxEnvelope } from "./outbox-envelope.js";
import type { OutboxBacklog, OutboxOutcome, OutboxRow, OutboxStore } from "./outbox-store.js";
import { lockKey, sqlByteaLiteral, sqlIdentifier, sqlLiteral } from "./sql-names.js";


/** Rows per INSERT statement of `publish` (four parameters each, within PostgreSQL's 65,535). */
const MAX_ROWS_PER_INSERT = 1_000;

/**
 * `publishAndCommit` writes envelopes of up to this many bytes in all as
 * literals in its one query string (hex doubles them); larger writes go as
 * `publish` (binary parameters), then `COMMIT`.
 */
const MAX_LITERAL_BYTES = 1 << 20;

/**
 * Writes of up to this many events go through a prepared statement of
 * their row count (at most this many statements per connection and table);
 * larger ones are parsed each time, as their shapes vary.
 */
const MAX_PREPARED_ROWS = 8;

/** A query with a statement name: node-postgres prepares it once per connection. */
export interface PostgresNamedQuery {
  readonly name: string;
  readonly text: string;
  readonly values: unknown[];
}

/**
 * What `publish` needs of a connection: node-postgres' `query` (a
 * `pg.Client` or `pg.PoolClient` inside `BEGIN`), with a text or, unless
 * `preparedStatements: false`, a named query.
 */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  query(query: PostgresNamedQuery): Promise<{ rows: unknown[] }>;
}

/** Options of {@link createPostgresOutbox}. */
export interface PostgresOutboxOptions {
  /** The outbox table (default `protobus_outbox`). */
  readonly table?: string;
  /** Its schema (default `public`). */
  readonly schema?: string;
  /** `source` of events written without one (default `protobus-outbox`). */
  readonly source?: string;
  /**
   * `stamp` (default): transactions are stamped as their commit begins;
   * conflicting transactions come out in exact commit order, and commits
   * still run in parallel. `serialized`: stamps follow commit completion
   * for every transaction, and outbox-writing commits run one at a time.
   * Applied by `install` (which replaces the trigger function).
   */
  readonly commitOrder?: "stamp" | "serialized";
  /**
   * Whether `publish` and the relay use prepared statements (default
   * true): PostgreSQL then parses and plans a write of a few events once
   * per connection instead of once per transaction. Set false behind a
   * pooler that cannot keep them (PgBouncer in transaction mode before
   * 1.21).
   */
  readonly preparedStatements?: boolean;
}

/** How a relay connects: a connection string, or node-postgres client options. */
export type PostgresConnection = string | Readonly<Record<string, unknown>>;

/** An outbox table on PostgreSQL. */
export interface PostgresOutbox {
  /** The table, schema-qualified. */
  readonly table: string;
  /** Creates the table, its sequence, index and trigger when absent (idempotent, safe to run concurrently; a pool will do). */
  install(db: PostgresQueryable): Promise<void>;
  /** Drops the table and everything `install` created. */
  uninstall(db: PostgresQueryable): Promise<void>;
  /**
   * Writes events into the outbox with the caller's connection, inside the
   * caller's transaction: they are published if and only if it commits.
   * Resolves to their ids (assigned now; the server stores each once).
   */
  publish(tx: PostgresQueryable, event: EventInput): Promise<string>;
  publish(tx: PostgresQueryable, events: readonly EventInput[]): Promise<string[]>;
  /**
   * `publish(tx, events)` and then `COMMIT`, in one round trip to the
   * database instead of two: the rows go as escaped literals in one query
   * string `INSERT ...; COMMIT`, which node-postgres sends with the simple
   * query protocol (`query(text)` without values). Resolves to the ids once
   * the transaction has committed. When it rejects, what happened is what
   * happens after a failed statement or a failed `COMMIT`: a failed write
   * leaves the transaction open and aborted (roll it back); a failed
   * commit has ended it. Writes of more than 1 MiB of envelopes, or with a
   * NUL character in an id, type or ordering key (which PostgreSQL refuses
   * in text), go as `publish` followed by `COMMIT`.
   */
  publishAndCommit(tx: PostgresQueryable, event: EventInput): Promise<string>;
  publishAndCommit(tx: PostgresQueryable, events: readonly EventInput[]): Promise<string[]>;
  /**
   * The relay's side of the table, on a connection of its own (needed for
   * the leader lock and LISTEN); pass it to `createOutboxRelay`.
   */
  relayStore(connection: PostgresConnection): OutboxStore;
}

// Two-key advisory locks: (namespace, table hash).
const STAMP_LOCK = 0x70627301;
const LEAD_LOCK = 0x70627302;
const INSTALL_LOCK = 0x70627303;
const WAIT_LOCK = 0x70627304;

/** The names an outbox table's SQL is written with. */
interface OutboxNames {
  readonly q: (name: string) => string;
  readonly tableName: string;
  readonly table: string;
  readonly sequence: string;
  readonly stampFunction: string;
  readonly stampSetting: string;
  readonly channel: string;
  readonly key: number;
  readonly serialized: boolean;
}

/** What `install` runs: the table, its sequence, index and stamping trigger. */
function installStatements({ q, tableName, table, sequence, stampFunction, stampSetting, channel, key, serialized }: OutboxNames): string {
  return `
    CREATE SEQUENCE IF NOT EXISTS ${sequence};
    CREATE TABLE IF NOT EXISTS ${table} (
      id bigserial PRIMARY KEY,
      event_id text NOT NULL,
      event_type text NOT NULL,
      ordering_key text NOT NULL DEFAULT '',
      envelope bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      commit_seq bigint,
      published_at timestamptz,
      sequence bigint,
      error text
    );
    -- Only stamped rows are indexed (an insert does not touch the index).
    DROP INDEX IF EXISTS ${q(`${tableName}_pending`)};
    CREATE INDEX IF NOT EXISTS "${tableName}_unsent" ON ${table} (commit_seq, id) WHERE published_at IS NULL AND commit_seq IS NOT NULL;
    CREATE OR REPLACE FUNCTION ${stampFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      stamp text := current_setting('${stampSetting}', true);
    BEGIN
      IF stamp IS NULL OR stamp = '' THEN
        ${serialized ? `-- Held until this transaction's commit is visible: stamps follow commit completion.
        PERFORM pg_advisory_xact_lock(${STAMP_LOCK}, ${key});` : "-- One stamp per transaction, taken as its commit begins."}
        stamp := nextval('${sequence}')::text;
        PERFORM set_config('${stampSetting}', stamp, true);
        -- The relay holds this lock while it waits for rows: wake it.
        IF NOT pg_try_advisory_xact_lock_shared(${WAIT_LOCK}, ${key}) THEN
          PERFORM pg_notify('${channel}', '');
        END IF;
      END IF;
      UPDATE ${table} SET commit_seq = stamp::bigint WHERE id = NEW.id;
      RETURN NULL;
    END
    $fn$;
    DROP TRIGGER IF EXISTS "${tableName}_stamp" ON ${table};
    CREATE CONSTRAINT TRIGGER "${tableName}_stamp" AFTER INSERT ON ${table}
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${stampFunction}();
  `;
}

/**
 * Describes an outbox table on PostgreSQL. Nothing is created until
 * `install`.
 *
 * @example
 * const outbox = createPostgresOutbox({ table: "orders_outbox" });
 * await outbox.install(pool);
 * const tx = await pool.connect();
 * await tx.query("BEGIN");
 * await tx.query("INSERT INTO orders (id) VALUES ($1)", ["o-1"]);
 * await outbox.publish(tx, { type: "shop.order.placed", data: { orderId: "o-1" }, orderingKey: "o-1" });
 * await tx.query("COMMIT");
 */
export function createPostgresOutbox(options: PostgresOutboxOptions = {}): PostgresOutbox {
  const tableName = sqlIdentifier(options.table ?? "protobus_outbox", "outbox table");
  const schemaName = sqlIdentifier(options.schema ?? "public", "outbox schema");
  const source = options.source ?? "protobus-outbox";
  const q = (name: string): string => `"${schemaName}"."${name}"`;
  const table = q(tableName);
  const sequence = q(`${tableName}_commit_seq`);
  const stampFunction = q(`${tableName}_stamp`);
  const qualified = `${schemaName}.${tableName}`;
  const channel = `protobus_outbox_${lockKey(qualified)}`;
  const serialized = options.commitOrder === "serialized";
  // The transaction's stamp, kept for its later rows in a transaction-local setting.
  const stampSetting = `protobus.outbox_stamp_${lockKey(qualified)}`;
  const key = lockKey(qualified);
  // Statement names carry the table: one connection may write several outboxes.
  const statementPrefix = options.preparedStatements === false ? undefined : `protobus_outbox ${qualified}`;

  const installSql = installStatements({ q, tableName, table, sequence, stampFunction, stampSetting, channel, key, serialized });

  /** Writes `input` into the outbox inside `tx`; with `commit`, also commits `tx` (in the same round trip when it can). */
  async function write(tx: PostgresQueryable, input: EventInput | readonly EventInput[], commit: boolean): Promise<string | string[]> {
    const list = Array.isArray(input) ? (input as readonly EventInput[]) : [input as EventInput];
    const envelopes = list.length === 0 ? [] : outboxEnvelopes(list, source);
    const literal = commit ? literalInsert(table, envelopes) : undefined;
    if (literal !== undefined) {
      await tx.query(`${literal}COMMIT`);
    } else {
      await insertEnvelopes(tx, table, envelopes, statementPrefix);
      if (commit) await tx.query("COMMIT");
    }
    const ids = envelopes.map((e) => e.id);
    return Array.isArray(input) ? ids : (ids[0] as string);
  }

  return {
    table,
    async install(db) {
      // One query string runs as one transaction, on one connection even
      // through a pool; the lock keeps concurrent installers apart
      // (CREATE OR REPLACE FUNCTION races otherwise).
      await db.query(`SELECT pg_advisory_xact_lock(${INSTALL_LOCK}, ${key}); ${installSql}`);
    },
    async uninstall(db) {
      await db.query(`DROP TABLE IF EXISTS ${table}; DROP FUNCTION IF EXISTS ${stampFunction}(); DROP SEQUENCE IF EXISTS ${sequence};`);
    },
    publish: ((tx, input) => write(tx, input, false)) as PostgresOutbox["publish"],
    publishAndCommit: ((tx, input) => write(tx, input, true)) as PostgresOutbox["publishAndCommit"],
    relayStore(connection) {
      return new PostgresRelayStore(connection, {
        table,
        qualified,
        channel,
        leadLock: [LEAD_LOCK, key],
        waitLock: [WAIT_LOCK, key],
        statementPrefix,
      });
    },
  };
}

/**
 * Inserts envelopes as plain VALUES rows: each envelope goes as a binary
 * parameter, with no array to build, escape and parse on either side.
 * With a statement prefix, writes of up to {@link MAX_PREPARED_ROWS} rows
 * use a prepared statement named after their row count.
 */
async function insertEnvelopes(
  tx: PostgresQueryable,
  table: string,
  envelopes: readonly OutboxEnvelope[],
  statementPrefix: string | undefined,
): Promise<void> {
  for (let start = 0; start < envelopes.length; start += MAX_ROWS_PER_INSERT) {
    const values: unknown[] = [];
    const rows = envelopes.slice(start, start + MAX_ROWS_PER_INSERT).map((e) => {
      const n = values.push(e.id, e.type, e.orderingKey, Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength));
      return `($${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
    });
    const text = `${insertInto(table)} VALUES ${rows.join(", ")}`;
    await runQuery(tx, rows.length <= MAX_PREPARED_ROWS ? statementPrefix : undefined, `insert ${rows.length}`, text, values);
  }
}

/** The start of an INSERT of outbox rows into `table`, up to its VALUES. */
function insertInto(table: string): string {
  return `INSERT INTO ${table} (event_id, event_type, ordering_key, envelope)`;
}

/**
 * The INSERT of `envelopes` as SQL text with literal values, ended by `;`
 * (empty for no envelopes; literals have no parameter limit, so one
 * statement holds them all); undefined when they are too large for one
 * query string or hold a NUL character.
 */
function literalInsert(table: string, envelopes: readonly OutboxEnvelope[]): string | undefined {
  if (envelopes.length === 0) return "";
  let bytes = 0;
  for (const e of envelopes) {
    bytes += e.bytes.byteLength;
    if (bytes > MAX_LITERAL_BYTES || e.id.includes("\0") || e.type.includes("\0") || e.orderingKey.includes("\0")) return undefined;
  }
  const rows = envelopes.map((e) => `(${sqlLiteral(e.id)}, ${sqlLiteral(e.type)}, ${sqlLiteral(e.orderingKey)}, ${sqlByteaLiteral(e.bytes)})`);
  return `${insertInto(table)} VALUES ${rows.join(", ")}; `;
}

/** Runs a query, as the prepared statement `<prefix> <name>` when there is a prefix. */
function runQuery(db: PostgresQueryable, statementPrefix: string | undefined, name: string, text: string, values: unknown[]): Promise<{ rows: unknown[] }> {
  return statementPrefix === undefined ? db.query(text, values) : db.query({ name: `${statementPrefix} ${name}`, text, values });
}

/** The part of a node-postgres `Client` the relay uses. */
interface PgClient extends PostgresQueryable {
  connect(): Promise<void>;
  end(): Promise<void>;
  on(event: "notification", listener: (message: { channel: string }) => void): unknown;
  on(event: "error" | "end", listener: (error?: Error) => void): unknown;
}

class PostgresRelayStore implements OutboxStore {
  readonly name: string;
  readonly #connection: PostgresConnection;
  readonly #table: string;
  readonly #channel: string;
  readonly #leadLock: readonly [number, number];
  readonly #waitLock: readonly [number, number];
  readonly #statementPrefix: string | undefined;
  #client: PgClient | undefined;
  #connecting: Promise<PgClient> | undefined;
  #leading = false;
  #notified = false;
  #wake: (() => void) | undefined;

  constructor(
    connection: PostgresConnection,
    names: {
      table: string;
      qualified: string;
      channel: string;
      leadLock: readonly [number, number];
      waitLock: readonly [number, number];
      statementPrefix: string | undefined;
    },
  ) {
    this.name = names.qualified;
    this.#connection = connection;
    this.#table = names.table;
    this.#channel = names.channel;
    this.#leadLock = names.leadLock;
    this.#waitLock = names.waitLock;
    this.#statementPrefix = names.statementPrefix;
  }

  async #db(): Promise<PgClient> {
    if (this.#client !== undefined) return this.#client;
    this.#connecting ??= (async () => {
      const pg = (await import("pg")).default;
      const client = new pg.Client(typeof this.#connection === "string" ? { connectionString: this.#connection } : this.#connection) as unknown as PgClient;
      const lost = (): void => {
        // The lead (a session lock) went with the connection.
        if (this.#client === client) this.#client = undefined;
        this.#leading = false;
        this.#wake?.();
      };
      client.on("error", lost);
      client.on("end", lost);
      client.on("notification", () => {
        this.#notified = true;
        this.#wake?.();
      });
      await client.connect();
      await client.query(`LISTEN "${this.#channel}"`);
      this.#client = client;
      return client;
    })().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async lead(): Promise<boolean> {
    if (this.#leading && this.#client !== undefined) return true;
    const db = await this.#db();
    const result = await db.query("SELECT pg_try_advisory_lock($1, $2) AS locked", [...this.#leadLock]);
    this.#leading = (result.rows[0] as { locked: boolean }).locked;
    return this.#leading;
  }

  async read(limit: number): Promise<OutboxRow[]> {
    const db = await this.#db();
    this.#notified = false;
    const result = await runQuery(
      db,
      this.#statementPrefix,
      "read",
      // Ordered by the columns, not by the text alias of id ("10" < "9").
      `SELECT o.id::text AS row_id, o.envelope, o.created_at FROM ${this.#table} AS o
       WHERE o.published_at IS NULL AND o.commit_seq IS NOT NULL ORDER BY o.commit_seq, o.id LIMIT $1`,
      [limit],
    );
    return (result.rows as Array<{ row_id: string; envelope: Buffer; created_at: Date }>).map((r) => ({
      id: r.row_id,
      envelope: r.envelope,
      createdAt: r.created_at,
    }));
  }

  async settle(outcomes: readonly OutboxOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const db = await this.#db();
    await runQuery(
      db,
      this.#statementPrefix,
      "settle",
      `UPDATE ${this.#table} AS o SET published_at = clock_timestamp(), sequence = v.seq, error = v.err
       FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS v(id, seq, err) WHERE o.id = v.id`,
      [
        outcomes.map((o) => o.id),
        outcomes.map((o) => (o.published ? o.sequence.toString() : null)),
        outcomes.map((o) => (o.published ? null : o.error)),
      ],
    );
  }

  async waitForRows(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.#notified || signal.aborted) return;
    const db = await this.#db();
    // Writers committing right now hold the lock shared: rows are on their way.
    const locked = (await db.query("SELECT pg_try_advisory_lock($1, $2) AS locked", [...this.#waitLock])).rows[0] as { locked: boolean };
    if (!locked.locked) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return;
    }
    try {
      // Rows committed before the lock was taken sent no notification.
      const waiting = (await db.query(`SELECT EXISTS (SELECT 1 FROM ${this.#table} WHERE published_at IS NULL AND commit_seq IS NOT NULL) AS waiting`))
        .rows[0] as { waiting: boolean };
      // Stopped while the queries ran: an abort listener added now would never fire.
      if (waiting.waiting || this.#notified || signal.aborted) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.#wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener("abort", done, { once: true });
        this.#wake = done;
      });
    } finally {
      if (this.#client === db) await db.query("SELECT pg_advisory_unlock($1, $2)", [...this.#waitLock]).catch(() => undefined);
    }
  }

  async backlog(): Promise<OutboxBacklog> {
    const db = await this.#db();
    const result = await db.query(
      `SELECT count(*)::int AS count, min(created_at) AS oldest FROM ${this.#table} WHERE published_at IS NULL AND commit_seq IS NOT NULL`,
    );
    const row = result.rows[0] as { count: number; oldest: Date | null };
    return { count: row.count, oldest: row.oldest ?? undefined };
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#leading = false;
    // Ending the session releases the lead lock.
    await client?.end().catch(() => undefined);
  }
}
