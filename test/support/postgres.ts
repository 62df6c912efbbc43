/**
 * The shared PostgreSQL of the test machine (127.0.0.1:5432, trust auth,
 * database `test`), with a table name of its own per test so that tests
 * running at once never share an outbox.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

/** Connection string of the test database; PROTOBUS_TEST_POSTGRES overrides it. */
export const POSTGRES_URL = process.env.PROTOBUS_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";

/** A pool on the test database; end it after the test. */
export function testPool(max = 10): pg.Pool {
  return new pg.Pool({ connectionString: POSTGRES_URL, max });
}

/** A table name no other test uses: `<prefix>_<pid>_<random>`. */
export function uniqueTable(prefix = "outbox"): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}
