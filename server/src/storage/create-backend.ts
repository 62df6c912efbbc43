/**
 * Chooses a backend by name. This is the one place that knows every backend;
 * the bus and the registry only see `StorageBackend`.
 */
import type { StorageBackend } from "./backend.js";
import { createMemoryBackend } from "./memory/index.js";
import { createJetStreamBackend } from "./jetstream/index.js";
import { createSqliteBackend } from "./sqlite/index.js";
import type { IntegrityCheck } from "./sqlite/integrity.js";
import type { GroupMemoryOptions } from "./groups/engine-group-store.js";
import type { MemoryBudget } from "./memory-budget.js";

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
  /** Most bytes a consumer group reads ahead. */
  readonly groupReadAheadBytes?: number;
  /** Most consumer groups loaded at once (memory and sqlite). */
  readonly maxGroups?: number;
  /** The server's memory budget, shared with the bus; one of the backend's own when absent. */
  readonly memoryBudget?: MemoryBudget;
}

/** The group memory settings every backend takes. */
function groupMemory(config: BackendConfig): GroupMemoryOptions {
  return {
    ...(config.groupReadAheadBytes !== undefined ? { groupReadAheadBytes: config.groupReadAheadBytes } : {}),
    ...(config.maxGroups !== undefined ? { maxGroups: config.maxGroups } : {}),
    ...(config.memoryBudget !== undefined ? { memoryBudget: config.memoryBudget } : {}),
  };
}

/** Creates the backend the configuration names. */
export async function createBackend(config: BackendConfig): Promise<StorageBackend> {
  switch (config.store) {
    case "memory":
      return createMemoryBackend(groupMemory(config));
    case "sqlite":
      return createSqliteBackend({
        dataDir: config.dataDir,
        ...groupMemory(config),
        ...(config.sqliteSynchronous !== undefined ? { synchronous: config.sqliteSynchronous } : {}),
        ...(config.sqliteIntegrityCheck !== undefined ? { integrityCheck: config.sqliteIntegrityCheck } : {}),
      });
    case "jetstream": {
      // Unset string settings are empty strings in the server config.
      const set = (value: string | undefined): value is string => value !== undefined && value !== "";
      return createJetStreamBackend({
        servers: (config.natsUrl ?? "nats://127.0.0.1:4222").split(","),
        ...groupMemory(config),
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
