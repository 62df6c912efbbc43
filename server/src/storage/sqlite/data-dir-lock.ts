/**
 * One server owns a data directory. The lock is a small SQLite database of
 * its own in the directory (`protobus.lock`), opened in exclusive locking
 * mode and written once, so that it holds its lock until it is closed: a
 * second server on the same directory fails at start, not mid-write, and
 * the lock dies with the process (a `kill -9` leaves nothing to clean up).
 * It is apart from `events.db` so that the events database itself can be
 * opened in normal locking mode, readable by the backlog reader thread's
 * second connection.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { Code, ProtobusError } from "@protobus/sdk";
import { sqliteError } from "./errors.js";

/** The lock file's name in the data directory. */
export const LOCK_FILE = "protobus.lock";

/** The held lock of a data directory; `release()` lets another server have it. */
export class DataDirLock {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /**
   * Takes the lock of `dataDir` (which must exist), or throws
   * FAILED_PRECONDITION when another server (or store) holds it.
   */
  static take(dataDir: string): DataDirLock {
    let db: Database.Database | undefined;
    try {
      db = new Database(join(dataDir, LOCK_FILE));
      db.pragma("locking_mode = EXCLUSIVE");
      db.pragma("busy_timeout = 0");
      // A write transaction takes the lock; exclusive mode keeps it after the commit.
      db.exec("BEGIN IMMEDIATE; COMMIT;");
      return new DataDirLock(db);
    } catch (error) {
      db?.close();
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) {
        throw new ProtobusError(Code.FAILED_PRECONDITION, `data directory ${dataDir} is in use by another protobus server`, [], {
          cause: error,
        });
      }
      throw sqliteError("open", error);
    }
  }

  /** Gives the lock up. */
  release(): void {
    this.#db.close();
  }
}
