/**
 * What a schema store does with the registry's decision on a registration,
 * the same in every backend: a rejection passes through, an existing
 * version is looked up, and an insert becomes the next version (the store
 * then writes it).
 */
import type { RegistrationDecision, RegistrationOutcome, SchemaDraft, StoredSchema } from "./schema-store.js";

/**
 * The outcome of `decision` over `all`, every version of `subject` oldest
 * first (deleted ones included). An `inserted` outcome carries the new
 * version, numbered one past the last, created at `now()` (called only
 * then); it is not stored yet. Throws when the decision names a version that does not exist.
 */
export function registrationOutcome<V>(
  subject: string,
  all: readonly StoredSchema[],
  draft: SchemaDraft,
  decision: RegistrationDecision<V>,
  now: () => Date,
): RegistrationOutcome<V> {
  switch (decision.kind) {
    case "reject":
      return { kind: "rejected", violations: decision.violations };
    case "existing": {
      const schema = all.find((s) => s.version === decision.version);
      if (schema === undefined) throw new Error(`registry chose version ${decision.version} of ${subject}, which does not exist`);
      return { kind: "existing", schema };
    }
    case "insert": {
      const schema: StoredSchema = {
        subject,
        version: (all.at(-1)?.version ?? 0) + 1,
        format: draft.format,
        definition: Uint8Array.from(draft.definition),
        messageName: draft.messageName,
        createTime: now(),
        deleted: false,
      };
      return { kind: "inserted", schema };
    }
  }
}
