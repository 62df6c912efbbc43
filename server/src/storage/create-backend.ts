/**
 * The backend registry: the one place that lists every backend. Each
 * backend declares its name, settings, configuration keys and defaults in
 * its own `descriptor.ts`; the server's configuration gathers them from
 * here, and the bus and the registry only see `StorageBackend`. A new
 * backend is a folder with a descriptor, added to {@link BACKENDS}.
 */
import { widenKeys, type ConfigKey } from "../config-key.js";
import { stripUndefined } from "../strip-undefined.js";
import type { StorageBackend } from "./backend.js";
import type { BackendDescriptor, SharedBackendSettings } from "./backend-descriptor.js";
import { jetstreamDescriptor } from "./jetstream/descriptor.js";
import { memoryDescriptor } from "./memory/descriptor.js";
import { sqliteDescriptor } from "./sqlite/descriptor.js";

/** Every backend this build can run on; the first is the default. */
export const BACKENDS = [sqliteDescriptor, memoryDescriptor, jetstreamDescriptor] as const;

type Backends = (typeof BACKENDS)[number];
type SettingsOf<D> = D extends BackendDescriptor<string, infer S> ? S : never;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** A backend name. */
export type StoreKind = Backends["name"];

/** The backends this build can run on, by name. */
export const STORE_KINDS: readonly StoreKind[] = BACKENDS.map((b) => b.name);

/** The settings of every backend together, as the server's configuration holds them. */
export type BackendSettings = Intersection<SettingsOf<Backends>>;

/** The default of every backend setting. */
export const BACKEND_DEFAULTS: BackendSettings = Object.assign({}, ...BACKENDS.map((b) => b.defaults)) as BackendSettings;

/** The configuration keys of every backend, in registry order. */
export const BACKEND_CONFIG_KEYS: readonly ConfigKey<BackendSettings>[] = BACKENDS.flatMap((b) =>
  widenKeys<BackendSettings, SettingsOf<typeof b>>(b.configKeys as readonly ConfigKey<SettingsOf<typeof b>>[]),
);

/**
 * What a backend is created from: which backend, and any of the settings;
 * a setting not given takes its backend's default.
 */
export type BackendConfig = { readonly store: StoreKind } & Partial<BackendSettings> & SharedBackendSettings;

/** Creates the backend the configuration names. */
export async function createBackend(config: BackendConfig): Promise<StorageBackend> {
  const descriptor = BACKENDS.find((b) => b.name === config.store) as BackendDescriptor<string, object> | undefined;
  if (descriptor === undefined) throw new RangeError(`unknown store '${config.store}' (known: ${STORE_KINDS.join(", ")})`);
  return descriptor.create({ ...descriptor.defaults, ...stripUndefined(config) });
}
