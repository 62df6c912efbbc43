/**
 * The storage contract of the schema registry, part of `StorageBackend` as
 * its `schemas` member. It keeps schema versions per subject and the
 * compatibility modes; it knows nothing about what a compatible schema is:
 * the registry passes that judgement in as a pure function, and the store
 * runs it atomically with the insert so that two concurrent registrations
 * can never both pass against the same history.
 */
import type { CompatibilityMode } from "@protobus/sdk";

/** The schema language of a stored definition. */
export const SchemaFormat = {
  /** `definition` is a serialized FileDescriptorSet, `messageName` names the message. */
  PROTOBUF: "PROTOBUF",
  /** `definition` is the UTF-8 text of a JSON Schema document. */
  JSON_SCHEMA: "JSON_SCHEMA",
} as const;

/** The schema language of a stored definition. */
export type SchemaFormat = (typeof SchemaFormat)[keyof typeof SchemaFormat];

// The compatibility modes are stored by name: the client's list, the one list of them.
export { COMPATIBILITY_MODES } from "@protobus/sdk";
export type { CompatibilityMode } from "@protobus/sdk";

/** A definition to store, before the store numbers it. */
export interface SchemaDraft {
  /** The schema language. */
  readonly format: SchemaFormat;
  /** Descriptor set bytes (PROTOBUF) or UTF-8 schema text (JSON_SCHEMA). */
  readonly definition: Uint8Array;
  /** Fully qualified message name for PROTOBUF; empty for JSON_SCHEMA. */
  readonly messageName: string;
}

/** One stored version of a subject's schema. */
export interface StoredSchema extends SchemaDraft {
  /** Event type, pattern, or base subject. */
  readonly subject: string;
  /** 1, 2, ... per subject; never reused, not even after a delete. */
  readonly version: number;
  /** When it was registered. */
  readonly createTime: Date;
  /** True once soft-deleted. */
  readonly deleted: boolean;
}

/** What the registry's judgement sees, read inside the store's lock. */
export interface RegistrationContext {
  /** The live (not deleted) versions of the subject, oldest first. */
  readonly versions: readonly StoredSchema[];
  /** The subject's own mode, when it has one. */
  readonly subjectMode: CompatibilityMode | undefined;
  /** The global mode, when one was set. */
  readonly globalMode: CompatibilityMode | undefined;
}

/**
 * The registry's judgement on a draft: store it as a new version, answer with
 * an existing version (an identical re-registration), or refuse it with the
 * reasons (which the store hands back untouched).
 */
export type RegistrationDecision<V> =
  | { readonly kind: "insert" }
  | { readonly kind: "existing"; readonly version: number }
  | { readonly kind: "reject"; readonly violations: readonly V[] };

/**
 * The registry's check of a draft, run by the store inside its atomic step.
 * It must be pure and synchronous: a store with optimistic concurrency may
 * call it again on a conflict.
 */
export type RegistrationDecider<V> = (context: RegistrationContext) => RegistrationDecision<V>;

/** What a registration did. */
export type RegistrationOutcome<V> =
  | { readonly kind: "inserted"; readonly schema: StoredSchema }
  | { readonly kind: "existing"; readonly schema: StoredSchema }
  | { readonly kind: "rejected"; readonly violations: readonly V[] };

/** Called with the subject whose versions or mode changed ("" for the global mode). */
export type SchemaChangeListener = (subject: string) => void;

/**
 * Where schemas live. Every method may be called concurrently. Subjects are
 * opaque non-empty strings to the store; the global compatibility mode is
 * addressed with `undefined`.
 */
export interface SchemaStore {
  /**
   * Registers a draft under a subject atomically: reads the context, calls
   * `decide`, and when it says `insert` stores the draft as version
   * max(existing, deleted included) + 1, all without any other registration
   * or mode change of the subject in between (see {@link RegistrationDecider}
   * for what `decide` must be). Nothing is stored unless the outcome is
   * `inserted`.
   */
  register<V>(subject: string, draft: SchemaDraft, decide: RegistrationDecider<V>): Promise<RegistrationOutcome<V>>;

  /** The given version (deleted or not), or the latest live one when `version` is absent. */
  get(subject: string, version?: number): Promise<StoredSchema | undefined>;

  /** Every version of a subject, oldest first; deleted ones only when asked. */
  versions(subject: string, options?: { readonly includeDeleted?: boolean }): Promise<StoredSchema[]>;

  /**
   * The latest version of every subject, ordered by subject. Subjects whose
   * versions are all deleted are left out unless `includeDeleted` (then
   * their latest deleted version stands for them).
   */
  list(options?: { readonly includeDeleted?: boolean }): Promise<StoredSchema[]>;

  /** Soft-deletes one version; returns it (marked deleted), or undefined when it does not exist. */
  softDelete(subject: string, version: number): Promise<StoredSchema | undefined>;

  /** The mode set for a subject (`undefined` subject: the global mode), or undefined when none is set. */
  getCompatibility(subject: string | undefined): Promise<CompatibilityMode | undefined>;

  /** Sets (or with `undefined` mode, clears) the mode of a subject or, with `undefined` subject, the global one. */
  setCompatibility(subject: string | undefined, mode: CompatibilityMode | undefined): Promise<void>;

  /**
   * Registers a listener told after every change of versions or modes,
   * including changes made by other servers on a shared backend, so that
   * caches of compiled validators can be dropped. Returns the remover.
   */
  onChange(listener: SchemaChangeListener): () => void;
}
