/**
 * The errors of the security layer. UNAUTHENTICATED says nothing about why a
 * credential failed (a guesser learns nothing from it); PERMISSION_DENIED
 * names the permission and the resource so that an operator can fix the
 * policy; RESOURCE_EXHAUSTED tells a client when to retry.
 */
import { Code, ProtobusError, type ErrorDetail } from "@protobus/sdk";
import { limitExceeded } from "../errors.js";
import { durationFromMs } from "@protobus/sdk/internal";

/** The one message of every UNAUTHENTICATED answer. */
export const UNAUTHENTICATED_MESSAGE = "missing or invalid credentials";

/** UNAUTHENTICATED, the same for a missing, malformed, unknown, expired or revoked credential. */
export function unauthenticated(): ProtobusError {
  return new ProtobusError(Code.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
}

/**
 * A credential was presented and refused. Thrown by authenticators; the
 * `reason` goes to the server's log and audit trail, never to the caller.
 */
export class CredentialRejected extends Error {
  override readonly name = "CredentialRejected";
}

/**
 * PERMISSION_DENIED naming the permission and the resource, with an
 * `ErrorInfo` (reason `PERMISSION_DENIED`, metadata `permission`,
 * `resource`, `principal`) for programs.
 */
export function permissionDenied(principal: string, permission: string, resource: string): ProtobusError {
  const shown = resource === "" ? "" : ` on '${resource}'`;
  return new ProtobusError(Code.PERMISSION_DENIED, `principal '${principal}' lacks permission '${permission}'${shown}`, [
    {
      type: "ErrorInfo",
      value: { reason: "PERMISSION_DENIED", domain: "protobus", metadata: { permission, resource, principal } },
    },
  ]);
}

/** One exceeded limit of a RESOURCE_EXHAUSTED answer. */
export interface QuotaViolation {
  /** Who is limited: `principal:agent-7` or `connection:127.0.0.1:50312`. */
  readonly subject: string;
  /** The limit's setting name, e.g. `limit-events-per-second` (in a policy file: `events-per-second`). */
  readonly limit: string;
  /** The value of the limit for this caller. */
  readonly value: number;
  /** What happened, for people. */
  readonly description: string;
}

/**
 * RESOURCE_EXHAUSTED in the form of every limit error (`limitExceeded`:
 * `ErrorInfo` LIMIT_EXCEEDED naming the first limit, a `QuotaFailure`
 * violation per exceeded limit), plus `RetryInfo` when waiting helps (a
 * quota on open streams or groups is freed by closing some, not by time).
 */
export function resourceExhausted(violations: readonly QuotaViolation[], retryAfterMs: number | undefined): ProtobusError {
  const [first, ...rest] = violations;
  if (first === undefined) throw new RangeError("resourceExhausted needs a violation");
  const base = limitExceeded(first);
  const details: ErrorDetail[] = base.details.map((d) =>
    d.type === "QuotaFailure"
      ? {
          type: "QuotaFailure",
          value: {
            violations: [
              ...d.value.violations.map((v) => ({ ...v, quotaMetric: first.limit })),
              ...rest.map((v) => ({
                subject: v.subject,
                description: v.description,
                apiService: "",
                quotaMetric: v.limit,
                quotaId: v.limit,
                quotaDimensions: {},
                quotaValue: BigInt(Math.max(0, Math.floor(v.value))),
              })),
            ],
          },
        }
      : d,
  );
  if (retryAfterMs !== undefined) details.push({ type: "RetryInfo", value: { retryDelay: durationFromMs(Math.ceil(retryAfterMs)) } });
  const message = violations.map((v) => `${v.description} (limit ${v.limit}=${v.value})`).join("; ") + (retryAfterMs === undefined ? "" : `; retry in ${Math.ceil(retryAfterMs)} ms`);
  return new ProtobusError(Code.RESOURCE_EXHAUSTED, message, details);
}
