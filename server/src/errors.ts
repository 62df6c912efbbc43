/**
 * Builders for the errors the server returns. Every rejection is a
 * `ProtobusError` with a gRPC code and, where a client can act on it,
 * `google.rpc` details naming what was wrong.
 */
import { Code, ProtobusError, type ErrorDetail } from "@protobus/sdk";
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

/**
 * What one error may carry of the violations it lists, in characters: its
 * message and details travel in the call's trailers, which every stock
 * client must be able to read (gRPC's C core accepts 8 KiB of metadata by
 * default, Node's HTTP/2 64 KiB). A payload can fail thousands of
 * schema checks, and a field path repeats a key the payload chose, of any
 * length: unbounded, the trailers were dropped with the connection, and
 * every call sharing it waited for that.
 */
const LISTED_TEXT_BUDGET = 3_000;
/**
 * Most violations one error lists (the text budget usually ends the list
 * sooner). Whoever finds violations need describe no more than this many,
 * and count the rest: see {@link invalidArgument}'s `total`.
 */
export const MAX_LISTED_VIOLATIONS = 128;
/** Most characters of one field path, subject or description listed. */
const MAX_LISTED_TEXT = 300;
/** Most characters of an error's message. */
const MAX_MESSAGE = 1_000;

/** `text`, cut to `max` characters with an ellipsis (never inside a surrogate pair). */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/**
 * The violations one error lists: the first ones, as many as fit
 * {@link LISTED_TEXT_BUDGET} (at least one), their texts clipped. A client
 * that fixes them and retries is told about the rest then.
 */
function listed<T>(violations: readonly T[], texts: (v: T) => readonly string[], clipped: (v: T) => T): T[] {
  const out: T[] = [];
  let used = 0;
  for (const v of violations) {
    if (out.length === MAX_LISTED_VIOLATIONS) break;
    const one = clipped(v);
    used += texts(one).reduce((n, text) => n + text.length, 0);
    if (out.length > 0 && used > LISTED_TEXT_BUDGET) break;
    out.push(one);
  }
  return out;
}

/** The message of an error about `total` violations of which `shown` are listed, `shown` being their texts. */
function listMessage(total: number, noun: string, shown: readonly string[]): string {
  const which = shown.length < total ? ` (the first ${shown.length} listed)` : "";
  return clip(`${total} ${noun}${which}: ${shown.join("; ")}`, MAX_MESSAGE);
}

/** Options of {@link invalidArgument}. */
export interface InvalidArgumentOptions {
  /** The message, instead of one made of the violations. */
  readonly summary?: string;
  /** How many violations there are in all, when `violations` holds only the first ones (default: its length). */
  readonly total?: number;
}

/** INVALID_ARGUMENT with a `BadRequest` detail listing the violations (the first ones, when they are many). */
export function invalidArgument(violations: readonly FieldViolation[], { summary, total = violations.length }: InvalidArgumentOptions = {}): ProtobusError {
  const shown = listed(
    violations,
    (v) => [v.field, v.description, v.reason ?? ""],
    // A limit's own description is what is clipped: the limit it names stays whole.
    (v) => ({
      ...v,
      field: clip(v.field, MAX_LISTED_TEXT),
      description: v.limit !== undefined ? limitDescription({ ...v.limit, description: clip(v.limit.description, MAX_LISTED_TEXT) }) : clip(v.description, MAX_LISTED_TEXT),
    }),
  );
  const first = shown[0];
  const message =
    summary !== undefined
      ? clip(summary, MAX_MESSAGE)
      : total === 1 && first !== undefined
        ? clip(`${first.field}: ${first.description}`, MAX_MESSAGE)
        : listMessage(
            total,
            "invalid fields",
            shown.map((v) => `${v.field}: ${v.description}`),
          );
  const limits = shown.flatMap((v) => (v.limit !== undefined ? [limitInfo(v.limit)] : []));
  return new ProtobusError(Code.INVALID_ARGUMENT, message, [
    { type: "BadRequest", value: { fieldViolations: shown.map(toProto) } },
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
 * FAILED_PRECONDITION with a `PreconditionFailure` detail listing the
 * violations (the first ones when they are many, as {@link invalidArgument}):
 * the request is well formed but the system is not in a state where it can
 * be accepted (an incompatible schema, an unregistered type).
 */
export function failedPrecondition(message: string, violations: readonly PreconditionViolation[]): ProtobusError {
  const shown = listed(
    violations,
    (v) => [v.type, v.subject, v.description],
    (v) => ({ type: clip(v.type, MAX_LISTED_TEXT), subject: clip(v.subject, MAX_LISTED_TEXT), description: clip(v.description, MAX_LISTED_TEXT) }),
  );
  return new ProtobusError(Code.FAILED_PRECONDITION, clip(message, MAX_MESSAGE), [{ type: "PreconditionFailure", value: { violations: shown } }]);
}

/** A configured limit a request ran into. */
export interface LimitBreach {
  /**
   * The limit by its configuration name, the flag without dashes
   * (`max-groups`, `memory-budget`): its environment variable and
   * protobus.yaml key follow from it, and the README's Limits table lists it.
   */
  readonly limit: string;
  /** The limit's configured value (bytes, a count, ms). */
  readonly value: number;
  /** What ran into it: a group name, a subscription, an event type, a peer address. */
  readonly subject: string;
  /** What happened and what to do, for people. */
  readonly description: string;
  /** For INVALID_ARGUMENT: the path of the request field over the limit. */
  readonly field?: string;
}

/** The `ErrorInfo.reason` of every limit error. */
export const LIMIT_EXCEEDED = "LIMIT_EXCEEDED";

/**
 * The one error of a request over a configured limit: RESOURCE_EXHAUSTED by
 * default (the server is out of room the caller may get back later: memory,
 * groups, connections), FAILED_PRECONDITION when a stored thing is over it,
 * or INVALID_ARGUMENT when the request itself is too large. Its details name
 * the limit: an `ErrorInfo` (reason `LIMIT_EXCEEDED`, domain `protobus`,
 * metadata `limit`, `value`, `subject`), a `QuotaFailure` whose `quotaId` is
 * the limit's name and `quotaValue` its value, and for INVALID_ARGUMENT a
 * `BadRequest` naming the field.
 */
export function limitExceeded(
  breach: LimitBreach,
  code: typeof Code.RESOURCE_EXHAUSTED | typeof Code.FAILED_PRECONDITION | typeof Code.INVALID_ARGUMENT = Code.RESOURCE_EXHAUSTED,
): ProtobusError {
  const details: ErrorDetail[] = [
    {
      type: "ErrorInfo",
      value: {
        reason: LIMIT_EXCEEDED,
        domain: "protobus",
        metadata: { limit: breach.limit, value: String(breach.value), subject: breach.subject },
      },
    },
    {
      type: "QuotaFailure",
      value: {
        violations: [
          {
            subject: breach.subject,
            description: breach.description,
            apiService: "",
            quotaMetric: "",
            quotaId: breach.limit,
            quotaDimensions: {},
            quotaValue: BigInt(Math.max(0, Math.floor(breach.value))),
          },
        ],
      },
    },
  ];
  if (code === Code.INVALID_ARGUMENT && breach.field !== undefined) {
    details.push({
      type: "BadRequest",
      value: { fieldViolations: [toProto({ field: breach.field, description: breach.description, reason: LIMIT_EXCEEDED })] },
    });
  }
  return new ProtobusError(code, `${breach.description} (limit ${breach.limit}=${breach.value})`, details);
}

/**
 * A limit one field of a request went over, to report next to other
 * violations in one INVALID_ARGUMENT (a publish batch, an open): see
 * {@link limitFieldViolation}. A request refused for one limit alone uses
 * {@link limitExceeded}.
 */
export interface LimitViolation {
  /** Path of the offending field in the request, e.g. `schema.json_schema`, `events[0].attributes`. */
  readonly field: string;
  /** The limit by its configuration name, the flag without dashes, e.g. `max-schema-bytes`. */
  readonly limit: string;
  /** The limit's configured value. */
  readonly max: number;
  /** What the request had, when it is known (some checks stop counting at the limit). */
  readonly actual?: number;
  /** What is wrong, for people; the limit is added. */
  readonly description: string;
}

function limitDescription(v: LimitViolation): string {
  return `${v.description} (limit ${v.limit}=${v.max})`;
}

/** The `ErrorInfo` of a limit, in the form {@link limitExceeded} gives it. */
function limitInfo(v: LimitViolation): ErrorDetail {
  return {
    type: "ErrorInfo",
    value: {
      reason: LIMIT_EXCEEDED,
      domain: "protobus",
      metadata: { limit: v.limit, value: String(v.max), subject: v.field, ...(v.actual !== undefined ? { actual: String(v.actual) } : {}) },
    },
  };
}

/**
 * A field violation for a limit. Its reason is `LIMIT_EXCEEDED` unless
 * `reason` keeps an older one (`TOO_LONG`); {@link invalidArgument} adds an
 * `ErrorInfo` naming the limit either way.
 */
export function limitFieldViolation(v: LimitViolation, reason: string = LIMIT_EXCEEDED): FieldViolation & { readonly limit: LimitViolation } {
  return { field: v.field, description: limitDescription(v), reason, limit: v };
}

/** PERMISSION_DENIED with an `ErrorInfo` giving the reason, e.g. `RESERVED_NAMESPACE`. */
export function permissionDenied(message: string, reason: string, metadata: Readonly<Record<string, string>> = {}): ProtobusError {
  return new ProtobusError(Code.PERMISSION_DENIED, message, [{ type: "ErrorInfo", value: { reason, domain: "protobus", metadata: { ...metadata } } }]);
}
