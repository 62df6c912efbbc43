/**
 * Chooses a backend by name. This is the one place that knows every backend;
 * the bus and the registry only see `StorageBackend`.
 */
import type { StorageBackend } from "./backend.js";
import { createMemoryBackend } from "./memory/index.js";
import { createJetStreamBackend } from "./jetstream/index.js";
import { createSqliteBackend } from "./sqlite/index.js";
import type { IntegrityCheck } from "./sqlite/integrity.js";

/** The backends this build can run on. */
export const STORE_KINDS = ["sqlite", "memory", "jetstream"] as const;

/** A backend name. */
export type StoreKind = (typeof STORE_KINDS)[number];

/** What a backend is created from; each backend reads the fields it needs. */
export interface BackendConfig {
  /** Which backend. */
  readonly store: StoreKind;
  /** Data directory of the sqlite backend. */
  readonly dataDir: string;
  /** Durability of sqlite commits. */
  readonly sqliteSynchronous?: "normal" | "full";
  /** How the sqlite file is checked before it is served. */
  readonly sqliteIntegrityCheck?: IntegrityCheck;
  /** NATS URLs of the jetstream backend, comma-separated. */
  readonly natsUrl?: string;
  readonly natsUser?: string;
  readonly natsPassword?: string;
  readonly natsToken?: string;
  readonly natsCreds?: string;
  readonly natsTlsCa?: string;
  readonly natsTlsCert?: string;
  readonly natsTlsKey?: string;
  /** Stream, subject prefix and replicas of the jetstream backend. */
  readonly jetstreamStream?: string;
  readonly jetstreamSubjectPrefix?: string;
  readonly jetstreamReplicas?: number;
  /** Retention of the jetstream backend's stream in ms; 0 keeps events forever. */
  readonly jetstreamMaxAgeMs?: number;
  /** The dedupe window, which the jetstream backend makes its stream's duplicate window. */
  readonly dedupeWindowMs?: number;
}

/** Creates the backend the configuration names. */
export async function createBackend(config: BackendConfig): Promise<StorageBackend> {
  switch (config.store) {
    case "memory":
      return createMemoryBackend();
    case "sqlite":
      return createSqliteBackend({
        dataDir: config.dataDir,
        ...(config.sqliteSynchronous !== undefined ? { synchronous: config.sqliteSynchronous } : {}),
        ...(config.sqliteIntegrityCheck !== undefined ? { integrityCheck: config.sqliteIntegrityCheck } : {}),
      });
    case "jetstream": {
      // Unset string settings are empty strings in the server config.
      const set = (value: string | undefined): value is string => value !== undefined && value !== "";
      return createJetStreamBackend({
        servers: (config.natsUrl ?? "nats://127.0.0.1:4222").split(","),
        ...(set(config.natsUser) ? { user: config.natsUser, password: config.natsPassword ?? "" } : {}),
        ...(set(config.natsToken) ? { token: config.natsToken } : {}),
        ...(set(config.natsCreds) ? { credsFile: config.natsCreds } : {}),
        ...(set(config.natsTlsCa) ? { tlsCaFile: config.natsTlsCa } : {}),
        ...(set(config.natsTlsCert) ? { tlsCertFile: config.natsTlsCert } : {}),
        ...(set(config.natsTlsKey) ? { tlsKeyFile: config.natsTlsKey } : {}),
        ...(set(config.jetstreamStream) ? { stream: config.jetstreamStream } : {}),
        ...(set(config.jetstreamSubjectPrefix) ? { subjectPrefix: config.jetstreamSubjectPrefix } : {}),
        ...(config.jetstreamReplicas !== undefined ? { replicas: config.jetstreamReplicas } : {}),
        ...(config.jetstreamMaxAgeMs !== undefined && config.jetstreamMaxAgeMs > 0 ? { maxAgeMs: config.jetstreamMaxAgeMs } : {}),
        ...(config.dedupeWindowMs !== undefined && config.dedupeWindowMs > 0 ? { duplicateWindowMs: config.dedupeWindowMs } : {}),
      });
    }
  }
}
