import { Code, ProtobusError } from "@protobus/sdk";

/**
 * Maps a better-sqlite3 failure to a gRPC status, so that clients see what
 * they can do about it: retry (busy), free space (full), or report a bug.
 */
export function sqliteError(operation: string, error: unknown): ProtobusError {
  if (error instanceof ProtobusError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const text = error instanceof Error ? error.message : String(error);
  const message = `sqlite ${operation} failed: ${text}`;
  if (typeof code === "string") {
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      return new ProtobusError(Code.UNAVAILABLE, message, [], { cause: error });
    }
    if (code.startsWith("SQLITE_FULL")) return new ProtobusError(Code.RESOURCE_EXHAUSTED, message, [], { cause: error });
    if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")) {
      return new ProtobusError(Code.DATA_LOSS, message, [], { cause: error });
    }
    if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_IOERR")) {
      return new ProtobusError(Code.UNAVAILABLE, message, [], { cause: error });
    }
  }
  return new ProtobusError(Code.INTERNAL, message, [], { cause: error });
}
