/**
 * The memory schema store: schemas kept in this process only. A
 * registration runs its check and insert in one synchronous step, so no other
 * registration can interleave.
 */
import { Listeners } from "../listeners.js";
import type {
  CompatibilityMode,
  RegistrationDecider,
  RegistrationOutcome,
  SchemaChangeListener,
  SchemaDraft,
  SchemaStore,
  StoredSchema,
} from "../schema-store.js";
import { registrationOutcome } from "../schema-registration.js";

/** The memory implementation of {@link SchemaStore}. */
export class MemorySchemaStore implements SchemaStore {
  // subject -> versions, oldest first (deleted ones included).
  readonly #subjects = new Map<string, StoredSchema[]>();
  readonly #modes = new Map<string, CompatibilityMode>();
  #globalMode: CompatibilityMode | undefined;
  readonly #notifier = new Listeners<[subject: string]>();
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  async register<V>(subject: string, draft: SchemaDraft, decide: RegistrationDecider<V>): Promise<RegistrationOutcome<V>> {
    const all = this.#subjects.get(subject) ?? [];
    const versions = all.filter((s) => !s.deleted);
    const decision = decide({ versions, subjectMode: this.#modes.get(subject), globalMode: this.#globalMode });
    const outcome = registrationOutcome(subject, all, draft, decision, this.#now);
    if (outcome.kind === "inserted") {
      this.#subjects.set(subject, [...all, outcome.schema]);
      this.#notifier.notify(subject);
    }
    return outcome;
  }

  async get(subject: string, version?: number): Promise<StoredSchema | undefined> {
    const all = this.#subjects.get(subject) ?? [];
    if (version === undefined) return all.findLast((s) => !s.deleted);
    return all.find((s) => s.version === version);
  }

  async versions(subject: string, options: { readonly includeDeleted?: boolean } = {}): Promise<StoredSchema[]> {
    const all = this.#subjects.get(subject) ?? [];
    return options.includeDeleted === true ? [...all] : all.filter((s) => !s.deleted);
  }

  async list(options: { readonly includeDeleted?: boolean } = {}): Promise<StoredSchema[]> {
    const out: StoredSchema[] = [];
    for (const subject of [...this.#subjects.keys()].sort()) {
      const all = this.#subjects.get(subject) ?? [];
      const latest = all.findLast((s) => !s.deleted) ?? (options.includeDeleted === true ? all.at(-1) : undefined);
      if (latest !== undefined) out.push(latest);
    }
    return out;
  }

  async softDelete(subject: string, version: number): Promise<StoredSchema | undefined> {
    const all = this.#subjects.get(subject);
    const index = all?.findIndex((s) => s.version === version) ?? -1;
    if (all === undefined || index < 0) return undefined;
    const deleted = { ...(all[index] as StoredSchema), deleted: true };
    all[index] = deleted;
    this.#notifier.notify(subject);
    return deleted;
  }

  async getCompatibility(subject: string | undefined): Promise<CompatibilityMode | undefined> {
    return subject === undefined ? this.#globalMode : this.#modes.get(subject);
  }

  async setCompatibility(subject: string | undefined, mode: CompatibilityMode | undefined): Promise<void> {
    if (subject === undefined) this.#globalMode = mode;
    else if (mode === undefined) this.#modes.delete(subject);
    else this.#modes.set(subject, mode);
    this.#notifier.notify(subject ?? "");
  }

  onChange(listener: SchemaChangeListener): () => void {
    return this.#notifier.add(listener);
  }

  /** Drops every listener. */
  close(): void {
    this.#notifier.clear();
  }
}
