/**
 * Status mapping of the transport: what a failure thrown by the bus, the
 * registry or an interceptor becomes on the wire. A `ProtobusError` keeps
 * its code and `google.rpc` details; an object carrying a gRPC status code
 * (a grpc-js `ServiceError`, a `StatusObject`) keeps its code and message;
 * anything else is a bug, logged and answered INTERNAL.
 */
import { Metadata, type StatusObject } from "@grpc/grpc-js";
import { Code, ProtobusError } from "@protobus/sdk";
import type { Logger } from "../logger.js";

/** A status object grpc-js sends as it is (code, message, trailers with the details). */
export type WireStatus = Pick<StatusObject, "code" | "details" | "metadata">;

function isStatusLike(error: unknown): error is { code: number; details?: unknown; message?: unknown; metadata?: unknown } {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" && Number.isInteger(code) && code >= 0 && code <= 16;
}

/**
 * The status a failure is answered with, or undefined when it carries none
 * (then it is a bug the caller answers INTERNAL).
 */
export function statusOf(error: unknown): WireStatus | undefined {
  if (error instanceof ProtobusError) return error.toServiceStatus();
  if (!isStatusLike(error)) return undefined;
  const details = typeof error.details === "string" ? error.details : typeof error.message === "string" ? error.message : "";
  const metadata = error.metadata instanceof Metadata ? error.metadata : new Metadata();
  return { code: error.code, details, metadata };
}

/**
 * The status `method` answers a failure with. INTERNAL and DATA_LOSS, and
 * failures that carry no status (bugs), are logged; a bug is answered
 * INTERNAL with its message.
 */
export function failureStatus(error: unknown, logger: Logger, method: string): WireStatus {
  const known = statusOf(error);
  if (known !== undefined) {
    if (known.code === Code.INTERNAL || known.code === Code.DATA_LOSS) {
      logger.error(`${method} failed`, { error, cause: (error as { cause?: unknown }).cause });
    }
    return known;
  }
  logger.error(`${method} failed unexpectedly`, { error });
  const message = `${method} failed: ${error instanceof Error ? error.message : String(error)}`;
  return new ProtobusError(Code.INTERNAL, message).toServiceStatus();
}
