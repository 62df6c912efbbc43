/**
 * Registers event schemas in bulk: every annotated message of a buf module
 * (`protobus schema sync`) or every definition of a generated event map.
 * All-or-nothing at the check: every subject is dry-run first, and when any
 * is incompatible nothing is registered and every violation is reported.
 */
import type { CompatibilityReport, RegistryClient, SchemaViolation } from "../registry-client.js";
import type { EventDefinition } from "./event-definition.js";

/** One subject to register. */
export interface SchemaSyncEntry {
  /** The event type (the registry subject). */
  readonly type: string;
  /** Fully qualified message name. */
  readonly messageName: string;
  /** The serialized FileDescriptorSet (canonical bytes, see `descriptorSetFor`). */
  readonly fileDescriptorSet: Uint8Array;
}

/** What happened to one subject. */
export interface SchemaSyncResult {
  /** The event type. */
  readonly subject: string;
  /** The message. */
  readonly messageName: string;
  /** `registered` (a new version), `unchanged` (this exact schema is the latest or an earlier version), `compatible` (dry run only), `incompatible`. */
  readonly outcome: "registered" | "unchanged" | "compatible" | "incompatible";
  /** The version it has now (0 in a dry run or when incompatible). */
  readonly version: number;
  /** Why it is incompatible. */
  readonly violations: readonly SchemaViolation[];
}

/** The outcome of a sync. */
export interface SchemaSyncReport {
  /** One result per subject, in the order given. */
  readonly results: readonly SchemaSyncResult[];
  /** True when no subject is incompatible (then everything was registered, unless a dry run). */
  readonly ok: boolean;
}

/** Options of {@link syncEventSchemas}. */
export interface SchemaSyncOptions {
  /** Check only; register nothing. */
  readonly dryRun?: boolean;
}

/** Turns generated definitions into sync entries. */
export function entriesOf(definitions: Iterable<EventDefinition>): SchemaSyncEntry[] {
  return [...definitions].map((d) => ({ type: d.type, messageName: d.messageName, fileDescriptorSet: d.fileDescriptorSet() }));
}

/**
 * Registers each entry (or each definition of an event map) under its event
 * type, using the registry's compatibility checks. Checks every subject
 * first; when any is incompatible, registers nothing.
 *
 * @example
 * const report = await syncEventSchemas(createRegistryClient({ address }), examplesAgentsV1Events);
 */
export async function syncEventSchemas(
  registry: RegistryClient,
  entries: readonly SchemaSyncEntry[] | { readonly [type: string]: EventDefinition },
  options: SchemaSyncOptions = {},
): Promise<SchemaSyncReport> {
  const list = Array.isArray(entries) ? (entries as readonly SchemaSyncEntry[]) : entriesOf(Object.values(entries));
  const definitionOf = (e: SchemaSyncEntry) => ({ protobuf: { fileDescriptorSet: e.fileDescriptorSet, messageName: e.messageName } });
  const reports: CompatibilityReport[] = await Promise.all(list.map((e) => registry.check(e.type, definitionOf(e))));
  const ok = reports.every((r) => r.compatible);
  if (!ok || options.dryRun === true) {
    return {
      ok,
      results: list.map((e, i) => {
        const report = reports[i] as CompatibilityReport;
        return { subject: e.type, messageName: e.messageName, outcome: report.compatible ? "compatible" : "incompatible", version: 0, violations: report.violations };
      }),
    };
  }
  const results: SchemaSyncResult[] = [];
  for (const e of list) {
    const { schema, alreadyRegistered } = await registry.register(e.type, definitionOf(e));
    results.push({ subject: e.type, messageName: e.messageName, outcome: alreadyRegistered ? "unchanged" : "registered", version: schema.version, violations: [] });
  }
  return { ok: true, results };
}
