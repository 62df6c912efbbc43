/**
 * What a storage backend declares about itself so the server can offer it:
 * its name, its configuration keys with their defaults, and how to create
 * it from them. Each backend folder has a `descriptor.ts`; the registry
 * (create-backend.ts) lists them, and the server's configuration gathers
 * their keys, so a backend's settings are declared in one place.
 */
import type { ConfigKey } from "../config-key.js";
import type { Logger } from "../logger.js";
import type { StorageBackend } from "./backend.js";
import type { GroupMemoryOptions } from "./groups/engine-group-store.js";

/**
 * Settings every backend may read, owned by the server: the dedupe window,
 * the memory settings of consumer groups (see {@link GroupMemoryOptions})
 * and the server's log.
 */
export interface SharedBackendSettings extends GroupMemoryOptions {
  /** The dedupe window in ms (the jetstream backend makes it its stream's duplicate window). */
  readonly dedupeWindowMs?: number;
  /** Where the backend reports failures of its background work (see `failure-log.ts`). */
  readonly logger?: Logger;
}

/** One backend: name `K`, settings `S`. */
export interface BackendDescriptor<K extends string, S extends object> {
  /** The value of `--store` that picks it. */
  readonly name: K;
  /** Its configuration keys, in the order `--help` and the README list them. */
  readonly configKeys: readonly ConfigKey<S>[];
  /** The value of each of its settings when none is given. */
  readonly defaults: S;
  /**
   * Creates the backend from its settings. Each backend loads its code here
   * (a dynamic import), so that reading the configuration, as every CLI
   * command does, loads no backend and its drivers.
   */
  readonly create: (settings: S & SharedBackendSettings) => Promise<StorageBackend>;
}
