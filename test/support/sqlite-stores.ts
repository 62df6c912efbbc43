/**
 * Data directories and SQLite stores for the tests of one `describe`
 * block: each is closed or removed after its test, the last made first
 * (a store before the directory it lives in), and so is anything else
 * handed to `defer`.
 */
import { afterEach } from "vitest";
import { createSqliteBackend, type SqliteBackendOptions, type SqliteStorageBackend } from "@protobus/server";
import { tempDir } from "./test-server.js";

export interface SqliteStores {
  /** A new empty data directory. */
  newDir(): string;
  /** Opens the store in `dataDir`. */
  open(dataDir: string, options?: Partial<SqliteBackendOptions>): SqliteStorageBackend;
  /** Runs `cleanup` after the test, with the others. */
  defer(cleanup: () => unknown): void;
}

/** Call within `describe`: registers the `afterEach` that cleans up. */
export function sqliteStores(): SqliteStores {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const defer = (cleanup: () => unknown): void => {
    cleanups.push(cleanup);
  };
  return {
    newDir() {
      const dir = tempDir();
      defer(() => dir.dispose());
      return dir.path;
    },
    open(dataDir, options = {}) {
      const store = createSqliteBackend({ dataDir, ...options });
      defer(() => store.close());
      return store;
    },
    defer,
  };
}
