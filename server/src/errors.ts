/**
 * Builders for the errors the server returns. Every rejection is a
 * `ProtobusError` with a gRPC code and, where a client can act on it,
 * `google.rpc` details naming what was wrong.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import type { BadRequest_FieldViolation } from "@protobus/sdk/proto";

/** One bad field: its path in the request and why it is bad. */
export interface FieldViolation {
  /** Path of the field in the request, e.g. `events[2].type`. */
  readonly field: string;
  /** What is wrong, for people. */
  readonly description: string;
  /** A stable machine-readable reason, e.g. `REQUIRED`, `PATTERN`. */
  readonly reason?: string;
  /** The limit it went over, when it did (see {@link limitFieldViolation}): adds an `ErrorInfo`. */
  readonly limit?: LimitViolation;
}

function toProto(v: FieldViolation): BadRequest_FieldViolation {
  return { field: v.field, description: v.description, reason: v.reason ?? "", localizedMessage: undefined };
}

/** INVALID_ARGUMENT with a `BadRequest` detail listing every violation. */
export function invalidArgument(violations: readonly FieldViolation[], summary?: string): ProtobusError {
  const first = violations[0];
  const message =
    summary ??
    (violations.length === 1 && first !== undefined
      ? `${first.field}: ${first.description}`
      : `${violations.length} invalid fields: ${violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`);
  const limits = violations.flatMap((v) => (v.limit !== undefined ? [{ type: "ErrorInfo" as const, value: limitInfo(v.limit) }] : []));
  return new ProtobusError(Code.INVALID_ARGUMENT, message, [
    { type: "BadRequest", value: { fieldViolations: violations.map(toProto) } },
    ...limits,
  ]);
}

/** NOT_FOUND with a `ResourceInfo` detail naming the missing resource. */
export function notFound(resourceType: string, resourceName: string): ProtobusError {
  return new ProtobusError(Code.NOT_FOUND, `${resourceType} '${resourceName}' not found`, [
    { type: "ResourceInfo", value: { resourceType, resourceName, owner: "", description: "" } },
  ]);
}

/** UNAVAILABLE: the server is going away; clients should retry elsewhere or later. */
export function unavailable(message: string): ProtobusError {
  return new ProtobusError(Code.UNAVAILABLE, message);
}

/** INTERNAL: a store or server failure; the cause is kept for the log. */
export function internal(message: string, cause: unknown): ProtobusError {
  return new ProtobusError(Code.INTERNAL, message, [], { cause });
}

/** One unmet precondition: its kind, what it concerns, and why. */
export interface PreconditionViolation {
  /** A stable kind, e.g. a compatibility rule `FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED` or `SCHEMA_REQUIRED`. */
  readonly type: string;
  /** What it concerns: a field path, a JSON pointer, an event type. */
  readonly subject: string;
  /** What is wrong, for people. */
  readonly description: string;
}

/**
 * FAILED_PRECONDITION with a `PreconditionFailure` detail listing every
 * violation: the request is well formed but the system is not in a state
 * where it can be accepted (an incompatible schema, an unregistered type).
 */
export function failedPrecondition(message: string, violations: readonly PreconditionViolation[]): ProtobusError {
  return new ProtobusError(Code.FAILED_PRECONDITION, message, [
    { type: "PreconditionFailure", value: { violations: violations.map((v) => ({ type: v.type, subject: v.subject, description: v.description })) } },
  ]);
}

/** The `ErrorInfo.domain` of every protobus error that names a limit. */
export const ERROR_DOMAIN = "protobus.dev";

/** The `ErrorInfo.reason` of a request over one of the server's limits. */
export const LIMIT_EXCEEDED = "LIMIT_EXCEEDED";

/** One limit a request went over. */
export interface LimitViolation {
  /** Path of the offending field in the request, e.g. `schema.json_schema`, `events[0].attributes`. */
  readonly field: string;
  /** The flag that sets the limit, without dashes, e.g. `max-schema-bytes`. */
  readonly limit: string;
  /** The limit in force. */
  readonly max: number;
  /** What the request had, when it is known (some checks stop counting at the limit). */
  readonly actual?: number;
  /** What is wrong, for people; the flag name is added. */
  readonly description: string;
}

function limitDescription(v: LimitViolation): string {
  return `${v.description} (limit --${v.limit} = ${v.max})`;
}

function limitInfo(v: LimitViolation) {
  return {
    reason: LIMIT_EXCEEDED,
    domain: ERROR_DOMAIN,
    metadata: {
      limit: v.limit,
      max: String(v.max),
      field: v.field,
      ...(v.actual !== undefined ? { actual: String(v.actual) } : {}),
    },
  };
}

/**
 * A field violation for a limit, to report next to others in one
 * INVALID_ARGUMENT. Its reason is `LIMIT_EXCEEDED` unless `reason` keeps an
 * older one (`TOO_LONG`); the `ErrorInfo` names the limit either way.
 */
export function limitFieldViolation(v: LimitViolation, reason: string = LIMIT_EXCEEDED): FieldViolation & { readonly limit: LimitViolation } {
  return { field: v.field, description: limitDescription(v), reason, limit: v };
}

/**
 * A request over a limit: INVALID_ARGUMENT (the request itself is too big or
 * too complex; resending it never helps) or RESOURCE_EXHAUSTED (a quota of
 * the caller or the server is used up; it may succeed later). Details: a
 * `BadRequest` naming the field, and one `ErrorInfo` per limit with reason
 * `LIMIT_EXCEEDED` and metadata `limit` (the flag), `max`, `field` and, when
 * known, `actual`. Every limit error of the server is built here.
 */
export function limitExceeded(
  violations: LimitViolation | readonly LimitViolation[],
  code: typeof Code.INVALID_ARGUMENT | typeof Code.RESOURCE_EXHAUSTED = Code.INVALID_ARGUMENT,
): ProtobusError {
  const list = Array.isArray(violations) ? (violations as readonly LimitViolation[]) : [violations as LimitViolation];
  const message = list.map((v) => `${v.field}: ${limitDescription(v)}`).join("; ");
  return new ProtobusError(code, message, [
    { type: "BadRequest", value: { fieldViolations: list.map((v) => toProto(limitFieldViolation(v))) } },
    ...list.map((v) => ({ type: "ErrorInfo" as const, value: limitInfo(v) })),
  ]);
}

/** PERMISSION_DENIED with an `ErrorInfo` giving the reason, e.g. `RESERVED_NAMESPACE`. */
export function permissionDenied(message: string, reason: string, metadata: Readonly<Record<string, string>> = {}): ProtobusError {
  return new ProtobusError(Code.PERMISSION_DENIED, message, [{ type: "ErrorInfo", value: { reason, domain: ERROR_DOMAIN, metadata: { ...metadata } } }]);
}
