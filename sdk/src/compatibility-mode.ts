/**
 * The compatibility modes of the schema registry, as in Confluent Schema
 * Registry: the one list the client, the server's registry and its stores
 * share.
 */

/** The compatibility modes, as in Confluent Schema Registry. */
export const COMPATIBILITY_MODES = [
  "NONE",
  "BACKWARD",
  "FORWARD",
  "FULL",
  "BACKWARD_TRANSITIVE",
  "FORWARD_TRANSITIVE",
  "FULL_TRANSITIVE",
] as const;

/** A compatibility mode. */
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

/** `value` as a compatibility mode when it names one (`"BACKWARD"`), else undefined. */
export function asCompatibilityMode(value: unknown): CompatibilityMode | undefined {
  return (COMPATIBILITY_MODES as readonly unknown[]).includes(value) ? (value as CompatibilityMode) : undefined;
}
