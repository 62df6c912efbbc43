/**
 * A value read from files and kept current, the way the security layer
 * keeps its certificates, token table, key set and policy: read once when
 * created (a failure is thrown), read again when a file changes and on
 * `reload()` (SIGHUP). A read that fails later is logged and the value in
 * force stays; a new value is logged and handed to every listener.
 *
 * The files are stamped just before every read and the watch compares them
 * with that stamp, so a change at any moment after a read began (during it,
 * or before the watch's first poll) is read in turn.
 */
import type { Logger } from "../logger.js";
import { WatchedFiles } from "./file-watch.js";

/** Options of {@link FileBackedValue}. */
export interface FileBackedValueOptions<T> {
  /** The files `read` reads, watched for changes. */
  readonly paths: readonly string[];
  /** How often the files are checked for changes, in ms; 0 turns watching off. */
  readonly watchIntervalMs: number;
  readonly logger: Logger;
  /** Reads the files; throws when they are missing or cannot be used. */
  readonly read: () => T;
  /** Whether a value read again replaces the one in force; without it, every successful read does. */
  readonly differs?: (current: T, next: T) => boolean;
  /** The error logged when a read fails, saying what stays in force. */
  readonly failedMessage: string;
  /** The line logged when a new value is in force. */
  readonly loadedMessage: string;
  /** Fields of both log lines (which files). */
  readonly logFields: Readonly<Record<string, unknown>>;
  /** More fields of the loaded line, about the new value. */
  readonly loadedFields?: (value: T) => Readonly<Record<string, unknown>>;
}

/** A value read from watched files; see the file's comment. */
export class FileBackedValue<T> {
  readonly #options: FileBackedValueOptions<T>;
  #current: T;
  readonly #listeners = new Set<(value: T) => void>();
  readonly #files: WatchedFiles | undefined;

  /** Reads the files; throws what `read` throws. */
  constructor(options: FileBackedValueOptions<T>) {
    this.#options = options;
    const { watchIntervalMs, logger, logFields } = options;
    // Stamped before the first read: a change after this moment differs from the stamp.
    this.#files = watchIntervalMs > 0 ? new WatchedFiles(options.paths) : undefined;
    this.#current = options.read();
    // A failed read is logged by reload(); what else throws (a listener) is logged here, never thrown out of a timer.
    this.#files?.watch(
      watchIntervalMs,
      () => this.reload(),
      (error) => logger.error("reload after a file change failed", { ...logFields, error }),
    );
  }

  /** The value in force. */
  get current(): T {
    return this.#current;
  }

  /** Calls `listener` with every new value; returns a function that stops it. */
  onChange(listener: (value: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads the files again; on failure keeps the value in force and logs why. Returns whether a new value is in force. */
  reload(): boolean {
    const { logger, logFields } = this.#options;
    this.#files?.restamp();
    let next: T;
    try {
      next = this.#options.read();
    } catch (error) {
      logger.error(this.#options.failedMessage, { ...logFields, error });
      return false;
    }
    if (this.#options.differs !== undefined && !this.#options.differs(this.#current, next)) return false;
    this.#current = next;
    logger.info(this.#options.loadedMessage, { ...logFields, ...this.#options.loadedFields?.(next) });
    for (const listener of this.#listeners) listener(next);
    return true;
  }

  /** Stops watching the files. */
  close(): void {
    this.#files?.close();
  }
}
