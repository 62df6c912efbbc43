/**
 * Compatibility modes over the Protobuf and JSON Schema checkers, as in
 * Confluent Schema Registry: BACKWARD (readers on the new schema read data
 * written with the previous one), FORWARD (readers on the previous schema
 * read data written with the new one), FULL (both), each against the latest
 * live version or, for *_TRANSITIVE, against every live version; NONE checks
 * nothing.
 */
import type { CompatibilityMode } from "../storage/schema-store.js";
import { jsonSchemaBreaks } from "./json-schema-compatibility.js";
import { protobufBreaks } from "./protobuf-compatibility.js";
import type { ParsedSchema } from "./schema-definition.js";

/** Which readers a violation breaks. */
export type CompatibilityDirection = "BACKWARD" | "FORWARD";

/** One reason a candidate schema is not compatible with an existing version. */
export interface CompatibilityViolation {
  /** The rule broken: buf's rule id for Protobuf, `JSON_*` for JSON Schema. */
  readonly rule: string;
  /** Fully qualified Protobuf path or JSON pointer. */
  readonly path: string;
  /** Old versus new. */
  readonly description: string;
  /** The existing version compared with. */
  readonly version: number;
  /** BACKWARD: new readers break on old data; FORWARD: old readers break on new data. */
  readonly direction: CompatibilityDirection;
}

/** An existing version, parsed. */
export interface VersionedSchema {
  readonly version: number;
  readonly parsed: ParsedSchema;
}

/** The label violations use for the candidate. */
export const CANDIDATE_LABEL = "the new schema";

function breaks(
  from: ParsedSchema,
  fromLabel: string,
  to: ParsedSchema,
  toLabel: string,
): { rule: string; path: string; description: string }[] {
  if (from.format !== to.format) {
    return [{ rule: "FORMAT_CHANGED", path: "", description: `${fromLabel} is ${from.format} but ${toLabel} is ${to.format}` }];
  }
  if (from.format === "PROTOBUF" && to.format === "PROTOBUF") {
    return protobufBreaks(
      { registry: from.registry, message: from.message, label: fromLabel },
      { registry: to.registry, message: to.message, label: toLabel },
    );
  }
  if (from.format === "JSON_SCHEMA" && to.format === "JSON_SCHEMA") return jsonSchemaBreaks(from.schema, to.schema, fromLabel, toLabel);
  return [];
}

/** The versions a mode compares with: the latest, or all for the transitive modes. */
export function versionsToCheck<T>(mode: CompatibilityMode, previous: readonly T[]): T[] {
  if (mode === "NONE" || previous.length === 0) return [];
  return mode.endsWith("_TRANSITIVE") ? [...previous] : [previous.at(-1) as T];
}

/**
 * Every violation of `mode` by `candidate` against the live `previous`
 * versions (oldest first). Empty when it may be registered.
 */
export function checkCompatibility(candidate: ParsedSchema, previous: readonly VersionedSchema[], mode: CompatibilityMode): CompatibilityViolation[] {
  const out: CompatibilityViolation[] = [];
  const backward = mode.startsWith("BACKWARD") || mode.startsWith("FULL");
  const forward = mode.startsWith("FORWARD") || mode.startsWith("FULL");
  for (const existing of versionsToCheck(mode, previous)) {
    const label = `version ${existing.version}`;
    if (backward) {
      for (const b of breaks(existing.parsed, label, candidate, CANDIDATE_LABEL)) {
        out.push({ ...b, version: existing.version, direction: "BACKWARD" });
      }
    }
    if (forward) {
      for (const b of breaks(candidate, CANDIDATE_LABEL, existing.parsed, label)) {
        // A format change reads the same both ways; report it once.
        if (b.rule === "FORMAT_CHANGED" && backward) continue;
        out.push({ ...b, version: existing.version, direction: "FORWARD" });
      }
    }
  }
  return out;
}
