import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import type {
  BadRequest_FieldViolation,
  ErrorInfo,
  PreconditionFailure_Violation,
  QuotaFailure_Violation,
} from "./gen/google/rpc/error_details.pb.js";
import { decodeStatusDetails, statusDetailsMetadata, type ErrorDetail } from "./status-details.js";

/**
 * gRPC status codes, as a const object plus a type of the same name. protobus
 * uses them unchanged:
 * - `INVALID_ARGUMENT`: a malformed envelope, pattern or payload; the
 *   `BadRequest` detail names each bad field.
 * - `FAILED_PRECONDITION`: the request is well formed but the bus's state
 *   refuses it (an incompatible schema, an unregistered type when schemas are
 *   required); the `PreconditionFailure` detail lists every violation.
 * - `NOT_FOUND`: the named event, schema or group does not exist.
 * - `UNAVAILABLE`: the server is shutting down or unreachable; retry.
 * - `RESOURCE_EXHAUSTED`: a size, count or memory limit was hit; the
 *   `QuotaFailure` detail names the limit (its flag, e.g. `max-groups`) and
 *   the `ErrorInfo` detail carries it as `metadata.limit`.
 * - `INTERNAL`: a bug or a store failure; nothing was acknowledged.
 */
export const Code = {
  OK: GrpcStatus.OK,
  CANCELLED: GrpcStatus.CANCELLED,
  UNKNOWN: GrpcStatus.UNKNOWN,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  ABORTED: GrpcStatus.ABORTED,
  OUT_OF_RANGE: GrpcStatus.OUT_OF_RANGE,
  UNIMPLEMENTED: GrpcStatus.UNIMPLEMENTED,
  INTERNAL: GrpcStatus.INTERNAL,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  DATA_LOSS: GrpcStatus.DATA_LOSS,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
} as const;

/** A gRPC status code. */
export type Code = (typeof Code)[keyof typeof Code];

const codeNames = new Map<number, string>(Object.entries(Code).map(([name, code]) => [code, name]));

/** The name of a status code, `INVALID_ARGUMENT` for 3. */
export function codeName(code: number): string {
  return codeNames.get(code) ?? `CODE_${code}`;
}

function isServiceError(value: unknown): value is ServiceError {
  return (
    value instanceof Error &&
    typeof (value as Partial<ServiceError>).code === "number" &&
    (value as Partial<ServiceError>).metadata instanceof Metadata
  );
}

/**
 * The one error type of protobus. Both the SDK and the server raise it; it
 * carries the gRPC status code, a message for people and the `google.rpc`
 * details for programs (which field was bad, which precondition failed).
 */
export class ProtobusError extends Error {
  override readonly name = "ProtobusError";
  /** The gRPC status code. */
  readonly code: Code;
  /** Structured `google.rpc` details, as the server sent them. */
  readonly details: readonly ErrorDetail[];
  /** The message without the code prefix. */
  readonly rawMessage: string;

  constructor(code: Code, message: string, details: readonly ErrorDetail[] = [], options?: { cause?: unknown }) {
    super(`[${codeName(code)}] ${message}`, options);
    this.code = code;
    this.rawMessage = message;
    this.details = details;
  }

  /**
   * Converts anything thrown into a ProtobusError: a ProtobusError is returned
   * as it is, a grpc-js ServiceError keeps its code and decoded details, any
   * other value becomes `UNKNOWN` (or `fallbackCode`) with it as the cause.
   */
  static from(reason: unknown, fallbackCode: Code = Code.UNKNOWN): ProtobusError {
    if (reason instanceof ProtobusError) return reason;
    if (isServiceError(reason)) {
      return new ProtobusError(reason.code as Code, reason.details, decodeStatusDetails(reason.metadata), {
        cause: reason,
      });
    }
    const message = reason instanceof Error ? reason.message : String(reason);
    return new ProtobusError(fallbackCode, message, [], { cause: reason });
  }

  /** Every `BadRequest` field violation in the details. */
  get fieldViolations(): BadRequest_FieldViolation[] {
    return this.details.flatMap((d) => (d.type === "BadRequest" ? d.value.fieldViolations : []));
  }

  /** Every `PreconditionFailure` violation in the details. */
  get preconditionViolations(): PreconditionFailure_Violation[] {
    return this.details.flatMap((d) => (d.type === "PreconditionFailure" ? d.value.violations : []));
  }

  /** Every `QuotaFailure` violation in the details: `quotaId` is the limit's flag name. */
  get quotaViolations(): QuotaFailure_Violation[] {
    return this.details.flatMap((d) => (d.type === "QuotaFailure" ? d.value.violations : []));
  }

  /** The `ErrorInfo` detail, when there is one (`reason` is stable, e.g. `LIMIT_EXCEEDED`). */
  get errorInfo(): ErrorInfo | undefined {
    for (const d of this.details) if (d.type === "ErrorInfo") return d.value;
    return undefined;
  }

  /**
   * The error as a grpc-js status object, ready to pass to a handler's
   * callback or `call.destroy`/`emit("error")`: code, message, and the
   * details in the `grpc-status-details-bin` trailer.
   */
  toServiceStatus(): { code: Code; details: string; metadata: Metadata } {
    return {
      code: this.code,
      details: this.rawMessage,
      metadata: statusDetailsMetadata(this.code, this.rawMessage, this.details),
    };
  }
}
