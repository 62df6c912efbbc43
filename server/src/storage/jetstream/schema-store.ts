/**
 * The schema store on a JetStream KV bucket. Each subject is one key whose
 * value holds all its versions and its compatibility mode; the global mode
 * is one more key. A registration reads the subject's entry, lets the
 * registry decide, and writes the new value only if the entry's revision is
 * still the one it read (compare-and-set); when another server won the race
 * it reads again and decides again, as the contract allows.
 */
import { randomUUID } from "node:crypto";
import { Code, ProtobusError } from "@protobus/sdk";
import { asCompatibilityMode } from "@protobus/sdk/internal";
import { KvWatchInclude, type KV } from "@nats-io/kv";
import { Listeners } from "../listeners.js";
import {
  type CompatibilityMode,
  type RegistrationDecider,
  type RegistrationOutcome,
  type SchemaChangeListener,
  type SchemaDraft,
  type SchemaFormat,
  type SchemaStore,
  type StoredSchema,
} from "../schema-store.js";
import { registrationOutcome } from "../schema-registration.js";
import { jetstreamError } from "./errors.js";
import { decodeKey, encodeKey, isRevisionConflict } from "./kv-util.js";

const SUBJECT_PREFIX = "subject";
const GLOBAL_KEY = "global";
const MAX_ATTEMPTS = 100;

interface VersionRecord {
  /** version */
  readonly n: number;
  readonly f: SchemaFormat;
  /** definition, base64 */
  readonly d: string;
  readonly m: string;
  /** create time, ms */
  readonly t: number;
  readonly x: boolean;
}

interface SubjectRecord {
  /** The instance that wrote it, so watchers can tell other servers' writes. */
  readonly o: string;
  readonly v: readonly VersionRecord[];
  readonly c?: CompatibilityMode;
}

interface GlobalRecord {
  readonly o: string;
  readonly c?: CompatibilityMode;
}

interface Loaded<T> {
  readonly record: T | undefined;
  /** 0 when the key does not exist (or was deleted). */
  readonly revision: number;
}

function toSchema(subject: string, v: VersionRecord): StoredSchema {
  return {
    subject,
    version: v.n,
    format: v.f,
    definition: new Uint8Array(Buffer.from(v.d, "base64")),
    messageName: v.m,
    createTime: new Date(v.t),
    deleted: v.x,
  };
}

/** A schema version as the subject record stores it. */
function toRecord(schema: StoredSchema): VersionRecord {
  return {
    n: schema.version,
    f: schema.format,
    d: Buffer.from(schema.definition).toString("base64"),
    m: schema.messageName,
    t: schema.createTime.getTime(),
    x: schema.deleted,
  };
}

/** The JetStream KV implementation of {@link SchemaStore}. */
export class JetStreamSchemaStore implements SchemaStore {
  readonly #kv: KV;
  readonly #notifier = new Listeners<[subject: string]>();
  readonly #origin = randomUUID();
  readonly #now: () => Date;
  #watching: Promise<void> | undefined;
  #stopWatch: (() => void) | undefined;
  #closed = false;

  constructor(kv: KV, now: () => Date = () => new Date()) {
    this.#kv = kv;
    this.#now = now;
  }

  async register<V>(subject: string, draft: SchemaDraft, decide: RegistrationDecider<V>): Promise<RegistrationOutcome<V>> {
    const key = encodeKey(SUBJECT_PREFIX, subject);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const [loaded, global] = await Promise.all([this.#load<SubjectRecord>(key), this.#load<GlobalRecord>(GLOBAL_KEY)]);
      const all = loaded.record?.v ?? [];
      const schemas = all.map((v) => toSchema(subject, v));
      const decision = decide({
        versions: schemas.filter((s) => !s.deleted),
        subjectMode: asCompatibilityMode(loaded.record?.c),
        globalMode: asCompatibilityMode(global.record?.c),
      });
      const outcome = registrationOutcome(subject, schemas, draft, decision, this.#now);
      if (outcome.kind !== "inserted") return outcome;
      const added = toRecord(outcome.schema);
      const record: SubjectRecord = { ...loaded.record, o: this.#origin, v: [...all, added] };
      if (await this.#write(key, record, loaded.revision)) {
        this.#notifier.notify(subject);
        return outcome;
      }
    }
    throw new ProtobusError(Code.ABORTED, `too many concurrent changes of schema subject ${subject}; retry`);
  }

  async get(subject: string, version?: number): Promise<StoredSchema | undefined> {
    const all = (await this.#load<SubjectRecord>(encodeKey(SUBJECT_PREFIX, subject))).record?.v ?? [];
    const found = version === undefined ? all.findLast((v) => !v.x) : all.find((v) => v.n === version);
    return found === undefined ? undefined : toSchema(subject, found);
  }

  async versions(subject: string, options: { readonly includeDeleted?: boolean } = {}): Promise<StoredSchema[]> {
    const all = (await this.#load<SubjectRecord>(encodeKey(SUBJECT_PREFIX, subject))).record?.v ?? [];
    return all.filter((v) => options.includeDeleted === true || !v.x).map((v) => toSchema(subject, v));
  }

  async list(options: { readonly includeDeleted?: boolean } = {}): Promise<StoredSchema[]> {
    const subjects: string[] = [];
    try {
      for await (const key of await this.#kv.keys(`${SUBJECT_PREFIX}.>`)) {
        const subject = decodeKey(SUBJECT_PREFIX, key);
        if (subject !== undefined) subjects.push(subject);
      }
    } catch (error) {
      throw jetstreamError("list schemas", error);
    }
    subjects.sort();
    const records = await Promise.all(subjects.map((subject) => this.#load<SubjectRecord>(encodeKey(SUBJECT_PREFIX, subject))));
    const out: StoredSchema[] = [];
    subjects.forEach((subject, i) => {
      const all = records[i]?.record?.v ?? [];
      const latest = all.findLast((v) => !v.x) ?? (options.includeDeleted === true ? all.at(-1) : undefined);
      if (latest !== undefined) out.push(toSchema(subject, latest));
    });
    return out;
  }

  async softDelete(subject: string, version: number): Promise<StoredSchema | undefined> {
    const key = encodeKey(SUBJECT_PREFIX, subject);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const loaded = await this.#load<SubjectRecord>(key);
      const all = loaded.record?.v ?? [];
      const found = all.find((v) => v.n === version);
      if (loaded.record === undefined || found === undefined) return undefined;
      const deleted = { ...found, x: true };
      const record: SubjectRecord = { ...loaded.record, o: this.#origin, v: all.map((v) => (v.n === version ? deleted : v)) };
      if (await this.#write(key, record, loaded.revision)) {
        this.#notifier.notify(subject);
        return toSchema(subject, deleted);
      }
    }
    throw new ProtobusError(Code.ABORTED, `too many concurrent changes of schema subject ${subject}; retry`);
  }

  async getCompatibility(subject: string | undefined): Promise<CompatibilityMode | undefined> {
    const key = subject === undefined ? GLOBAL_KEY : encodeKey(SUBJECT_PREFIX, subject);
    return asCompatibilityMode((await this.#load<SubjectRecord | GlobalRecord>(key)).record?.c);
  }

  async setCompatibility(subject: string | undefined, mode: CompatibilityMode | undefined): Promise<void> {
    const key = subject === undefined ? GLOBAL_KEY : encodeKey(SUBJECT_PREFIX, subject);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const loaded = await this.#load<SubjectRecord | GlobalRecord>(key);
      const { c: _previous, ...rest } = loaded.record ?? { o: this.#origin, ...(subject === undefined ? {} : { v: [] }) };
      const record = { ...rest, o: this.#origin, ...(mode !== undefined ? { c: mode } : {}) };
      if (await this.#write(key, record, loaded.revision)) {
        this.#notifier.notify(subject ?? "");
        return;
      }
    }
    throw new ProtobusError(Code.ABORTED, `too many concurrent changes of compatibility of ${subject ?? "the registry"}; retry`);
  }

  onChange(listener: SchemaChangeListener): () => void {
    this.#watch();
    return this.#notifier.add(listener);
  }

  /** Stops watching and drops every listener. */
  close(): void {
    this.#closed = true;
    this.#stopWatch?.();
    this.#notifier.clear();
  }

  /** Watches the bucket once there are listeners, to report other servers' changes. */
  #watch(): void {
    this.#watching ??= (async () => {
      const updates = await this.#kv.watch({ include: KvWatchInclude.UpdatesOnly });
      this.#stopWatch = () => updates.stop();
      if (this.#closed) updates.stop();
      for await (const entry of updates) {
        if (entry.operation !== "PUT") continue;
        let origin: unknown;
        try {
          origin = (entry.json<{ o?: unknown }>() ?? {}).o;
        } catch {
          continue;
        }
        // This server's own writes were reported when they were made.
        if (origin === this.#origin) continue;
        const subject = entry.key === GLOBAL_KEY ? "" : decodeKey(SUBJECT_PREFIX, entry.key);
        if (subject !== undefined) this.#notifier.notify(subject);
      }
    })().catch(() => {
      // Watching failed (connection closed): the next listener starts again.
      this.#watching = undefined;
    });
  }

  async #load<T>(key: string): Promise<Loaded<T>> {
    try {
      const entry = await this.#kv.get(key);
      if (entry === null || entry.operation !== "PUT") return { record: undefined, revision: entry?.revision ?? 0 };
      return { record: entry.json<T>(), revision: entry.revision };
    } catch (error) {
      throw jetstreamError("read schema", error);
    }
  }

  /** Writes `record` if `key` is still at `revision`; false when another writer came first. */
  async #write(key: string, record: object, revision: number): Promise<boolean> {
    const value = JSON.stringify(record);
    try {
      if (revision === 0) await this.#kv.create(key, value);
      else await this.#kv.update(key, value, revision);
      return true;
    } catch (error) {
      if (isRevisionConflict(error)) return false;
      throw jetstreamError("write schema", error);
    }
  }
}
