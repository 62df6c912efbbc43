/**
 * gRPC statuses as the console's JSON API answers them: the HTTP status and
 * error body of the Connect protocol (`{code, message, details}`, codes in
 * snake case), with each `google.rpc` detail of the `grpc-status-details-bin`
 * trailer given as its type, its bytes and its JSON (`debug`), so the page
 * can name the bad field exactly as a gRPC client would see it.
 */
import { fromBinary, toJson, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import { type Metadata, status as GrpcStatus } from "@grpc/grpc-js";
import { codeName } from "@protobus/sdk";
import { STATUS_DETAILS_KEY } from "@protobus/sdk/internal";

/** One error detail in a Connect error body. */
export interface ConnectErrorDetail {
  /** Fully qualified message name: `google.rpc.BadRequest`. */
  readonly type: string;
  /** The detail's bytes, base64 without padding. */
  readonly value: string;
  /** The detail as JSON, when the server knows its type. */
  readonly debug?: JsonValue;
}

/** The body of a failed call. */
export interface ConnectErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: readonly ConnectErrorDetail[];
}

const HTTP_STATUS: Record<number, number> = {
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNKNOWN]: 500,
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.INTERNAL]: 500,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DATA_LOSS]: 500,
  [GrpcStatus.UNAUTHENTICATED]: 401,
};

/** The HTTP status the Connect protocol gives a gRPC code. */
export function httpStatusOf(code: number): number {
  return HTTP_STATUS[code] ?? 500;
}

/** The Connect error body of a gRPC status and its trailers. */
export function connectErrorBody(registry: Registry, code: number, message: string, metadata?: Metadata): ConnectErrorBody {
  const details: ConnectErrorDetail[] = [];
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (raw instanceof Buffer) {
    try {
      const statusDesc = registry.getMessage("google.rpc.Status");
      if (statusDesc !== undefined) {
        const status = fromBinary(statusDesc, raw) as unknown as { details: Any[] };
        for (const any of status.details) {
          const type = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
          const value = Buffer.from(any.value).toString("base64").replace(/=+$/, "");
          const unpacked = anyUnpack(any, registry);
          const desc = registry.getMessage(type);
          details.push(unpacked !== undefined && desc !== undefined ? { type, value, debug: toJson(desc, unpacked, { registry }) } : { type, value });
        }
      }
    } catch {
      // Undecodable details: the code and message still say what went wrong.
    }
  }
  // Connect spells CANCELLED the American way.
  const name = code === GrpcStatus.CANCELLED ? "canceled" : codeName(code).toLowerCase();
  return { code: name, message, ...(details.length > 0 ? { details } : {}) };
}
