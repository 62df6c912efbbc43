/**
 * The hook through which the bus has payloads checked before it stores a
 * batch: the schema registry implements it. The bus stays unaware of schemas.
 */
import type { Event } from "@protobus/sdk/proto";
import type { FieldViolation, PreconditionViolation } from "../errors.js";

/** What a validator found in a batch. */
export interface PublishValidation {
  /** Bad payloads or envelopes, with paths like `events[0].data.task.priority`; any rejects the batch with INVALID_ARGUMENT. */
  readonly violations: readonly FieldViolation[];
  /** Events that may not be published at all (no schema while schemas are required); any rejects the batch with FAILED_PRECONDITION. */
  readonly preconditions: readonly PreconditionViolation[];
  /** Per event, the version of the schema its payload was checked against, 0 when none applied. */
  readonly schemaVersions: readonly number[];
}

/**
 * Checks the payloads of a batch. Answers synchronously when it can (every
 * schema already compiled), so that validation adds no await to a publish.
 */
export interface PublishValidator {
  validate(events: readonly Event[]): PublishValidation | Promise<PublishValidation>;
}
