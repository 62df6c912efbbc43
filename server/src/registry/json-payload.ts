/**
 * Reading a JSON payload, as both kinds of schema check it (a JSON Schema,
 * or a Protobuf message in its canonical JSON form): strict UTF-8, then
 * `JSON.parse`.
 */
import type { JsonViolation } from "./json-schema-validator.js";

// Without `stream`, decode() keeps no state between calls: one decoder serves every payload.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** What {@link parseJsonPayload} returns for bytes that are not JSON (no parsed value is one of these). */
export class NotJson {
  constructor(
    /** The `decode` violation of the payload as a whole. */
    readonly violation: JsonViolation,
  ) {}
}

/**
 * Parses a JSON payload: its value, or a {@link NotJson} when the bytes are
 * not UTF-8 or not JSON (the valid path allocates nothing of its own).
 */
export function parseJsonPayload(data: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(data)) as unknown;
  } catch (error) {
    return new NotJson({ path: "", description: `is not valid JSON: ${(error as Error).message}`, keyword: "decode" });
  }
}
