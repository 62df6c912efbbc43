/**
 * The hook through which the bus has payloads checked before it stores a
 * batch: the schema registry implements it. The bus stays unaware of schemas.
 */
import type { Event } from "@protobus/sdk/proto";
import type { ProtobusError } from "@protobus/sdk";
import { failedPrecondition, type FieldViolation, type PreconditionViolation } from "../errors.js";

/** What a validator found in a batch. */
export interface PublishValidation {
  /** Bad payloads or envelopes, with paths like `events[0].data.task.priority`; any rejects the batch with INVALID_ARGUMENT. */
  readonly violations: readonly FieldViolation[];
  /** How many violations there are in all, when `violations` lists only the first ones (default: its length). */
  readonly violationCount?: number;
  /** The indexes of the events that have violations (default: read from the violations' paths, `events[i]...`). */
  readonly invalidEvents?: readonly number[];
  /** Events that may not be published at all (no schema while schemas are required); any rejects the batch with FAILED_PRECONDITION. */
  readonly preconditions: readonly PreconditionViolation[];
  /** How many precondition failures there are in all, when `preconditions` lists only the first ones (default: its length). */
  readonly preconditionCount?: number;
  /** Per event, the version of the schema its payload was checked against, 0 when none applied. */
  readonly schemaVersions: readonly number[];
}

/**
 * Checks the payloads of a batch. Answers synchronously when it can (every
 * schema already compiled, and the checks fit in one turn of the event
 * loop), so that validation adds no await to an ordinary publish.
 */
export interface PublishValidator {
  validate(events: readonly Event[]): PublishValidation | Promise<PublishValidation>;
}

/** The indexes of the events that violations name (`events[3].data.x` → 3), each once, in order of first mention. */
export function eventsNamed(violations: readonly FieldViolation[]): number[] {
  const indexes = new Set<number>();
  for (const v of violations) {
    const match = /^events\[(\d+)\]/.exec(v.field);
    if (match !== null) indexes.add(Number(match[1]));
  }
  return [...indexes];
}

/** FAILED_PRECONDITION for a validation's preconditions, its message naming how many there are. */
export function preconditionsFailed(validation: PublishValidation): ProtobusError {
  const { preconditions } = validation;
  const total = validation.preconditionCount ?? preconditions.length;
  const listed = preconditions.map((p) => `${p.subject}: ${p.description}`).join("; ");
  return failedPrecondition(total > preconditions.length ? `${total} events may not be published (the first ${preconditions.length}: ${listed})` : listed, preconditions);
}
