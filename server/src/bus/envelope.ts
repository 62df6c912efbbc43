/**
 * Checks and completes publish envelopes. Everything a client can get wrong
 * about an envelope is found here, reported field by field, before anything
 * is stored.
 */
import { isValidEventType, newEventId } from "@protobus/sdk/internal";
import type { Event } from "@protobus/sdk/proto";
import { limitFieldViolation, type FieldViolation } from "../errors.js";
import type { InputLimits } from "../limits.js";
import { DEFAULT_PRIORITY } from "../storage/envelope-grouping.js";

/** The CloudEvents version protobus speaks. */
export const SPEC_VERSION = "1.0";
/** Lowest priority (highest number) accepted. */
export const MAX_PRIORITY = 9;

/** Limits applied to every envelope: the payload size and the input limits of the envelope (limits.ts). */
export interface EnvelopeLimits
  extends Pick<
    InputLimits,
    "maxAttributes" | "maxAttributesBytes" | "maxTags" | "maxTagLength" | "maxIdLength" | "maxTypeLength" | "maxSourceLength" | "maxFieldLength"
  > {
  /** Largest accepted `data`, in bytes. */
  readonly maxPayloadBytes: number;
}

// Field paths are built only for a violation: validation runs for every
// published event and almost always finds nothing.
function checkText(violations: FieldViolation[], prefix: string, field: string, value: string, max: number, limit: string): void {
  if (value.length > max) {
    violations.push(
      limitFieldViolation({
        field: `${prefix}.${field}`,
        limit,
        max,
        actual: value.length,
        description: `must be at most ${max} characters, got ${value.length}`,
      }, "TOO_LONG"),
    );
  }
}

/** W3C trace context: `version-traceid-parentid-flags`; version 00 has exactly these four fields. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_PARENT_ID = "0".repeat(16);
/** Longest `tracestate` accepted: 32 list members of the W3C limits fit. */
const MAX_TRACESTATE_LENGTH = 8192;

/**
 * The last `traceparent` found valid. The events of one SDK publish call
 * share one (the context of its send span), so each batch checks it once.
 */
let lastValidTraceparent = "";

/**
 * Why a `traceparent` is not a W3C trace-context header, or undefined when
 * it is one. Such a value would be stored and handed to every consumer, whose
 * tracing would drop it, so the publish is refused instead.
 */
function traceparentProblem(value: string): string | undefined {
  if (value === lastValidTraceparent) return undefined;
  if (value.length > 512) return `must be a W3C traceparent (55 characters for version 00), got ${value.length} characters`;
  const match = TRACEPARENT.exec(value);
  const shown = (): string => JSON.stringify(value.slice(0, 80));
  if (match === null) return `${shown()} is not a W3C traceparent like '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'`;
  const [, version, traceId, parentId, rest] = match;
  if (version === "ff") return `${shown()}: version ff is forbidden by W3C trace context`;
  if (version === "00" && rest !== undefined) return `${shown()}: version 00 has exactly four fields`;
  if (traceId === ZERO_TRACE_ID) return `${shown()}: the trace id must not be all zeros`;
  if (parentId === ZERO_PARENT_ID) return `${shown()}: the parent id must not be all zeros`;
  lastValidTraceparent = value;
  return undefined;
}

function checkAttributes(violations: FieldViolation[], prefix: string, attributes: Readonly<Record<string, string>>, limits: EnvelopeLimits): void {
  let count = 0;
  let bytes = 0;
  let emptyKey = false;
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    count += 1;
    if (key.length === 0) emptyKey = true;
    // Counted until over the limit: past it the exact total does not matter.
    if (bytes <= limits.maxAttributesBytes) bytes += Buffer.byteLength(key) + Buffer.byteLength(attributes[key] ?? "");
  }
  const field = `${prefix}.attributes`;
  if (emptyKey) violations.push({ field, description: "keys must not be empty", reason: "REQUIRED" });
  if (count > limits.maxAttributes) {
    violations.push(
      limitFieldViolation({ field, limit: "max-attributes", max: limits.maxAttributes, actual: count, description: `has ${count} attributes, over the limit of ${limits.maxAttributes}` }),
    );
  }
  if (bytes > limits.maxAttributesBytes) {
    violations.push(
      limitFieldViolation({
        field,
        limit: "max-attributes-bytes",
        max: limits.maxAttributesBytes,
        description: `names and values take more than ${limits.maxAttributesBytes} bytes`,
      }),
    );
  }
}

function unrepresentableTime(field: string): FieldViolation {
  return { field, description: "is not a time this server can represent (years 0001 to 9999)", reason: "OUT_OF_RANGE" };
}

/**
 * Validates one envelope. Returns its violations with field paths under
 * `prefix` (e.g. `events[3]`); an empty list means the event is acceptable.
 */
export function validateEnvelope(event: Event, prefix: string, limits: EnvelopeLimits): FieldViolation[] {
  const violations: FieldViolation[] = [];
  const at = (field: string) => `${prefix}.${field}`;
  checkText(violations, prefix, "id", event.id, limits.maxIdLength, "max-id-length");
  if (event.source.length === 0) {
    violations.push({ field: at("source"), description: "is required", reason: "REQUIRED" });
  } else checkText(violations, prefix, "source", event.source, limits.maxSourceLength, "max-source-length");
  if (event.type.length === 0) {
    violations.push({ field: at("type"), description: "is required", reason: "REQUIRED" });
  } else if (event.type.length > limits.maxTypeLength) {
    checkText(violations, prefix, "type", event.type, limits.maxTypeLength, "max-type-length");
  } else if (!isValidEventType(event.type)) {
    violations.push({
      field: at("type"),
      description: `'${event.type.slice(0, 100)}' is not a lower-case dotted event type like 'agent.task.created' (^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$)`,
      reason: "PATTERN",
    });
  }
  if (event.specVersion !== "" && event.specVersion !== SPEC_VERSION) {
    violations.push({
      field: at("spec_version"),
      description: `must be '${SPEC_VERSION}' or empty, got '${event.specVersion.slice(0, 20)}'`,
      reason: "UNSUPPORTED",
    });
  }
  if (event.priority !== undefined && event.priority > MAX_PRIORITY) {
    violations.push({
      field: at("priority"),
      description: `must be between 0 (highest) and ${MAX_PRIORITY} (lowest), got ${event.priority}`,
      reason: "OUT_OF_RANGE",
    });
  }
  if (event.data.length > limits.maxPayloadBytes) {
    violations.push({
      field: at("data"),
      description: `is ${event.data.length} bytes, over the limit of ${limits.maxPayloadBytes} bytes`,
      reason: "TOO_LARGE",
    });
  }
  // Named one by one: a loop over property names was a keyed (megamorphic) load each.
  const maxField = limits.maxFieldLength;
  checkText(violations, prefix, "subject", event.subject, maxField, "max-field-length");
  checkText(violations, prefix, "correlation_id", event.correlationId, maxField, "max-field-length");
  checkText(violations, prefix, "causation_id", event.causationId, maxField, "max-field-length");
  checkText(violations, prefix, "ordering_key", event.orderingKey, maxField, "max-field-length");
  checkText(violations, prefix, "data_schema", event.dataSchema, maxField, "max-field-length");
  checkText(violations, prefix, "data_content_type", event.dataContentType, maxField, "max-field-length");
  if (event.traceparent !== "") {
    const problem = traceparentProblem(event.traceparent);
    if (problem !== undefined) violations.push({ field: at("traceparent"), description: problem, reason: "PATTERN" });
  }
  if (event.tracestate.length > MAX_TRACESTATE_LENGTH) {
    violations.push({ field: at("tracestate"), description: `must be at most ${MAX_TRACESTATE_LENGTH} characters, got ${event.tracestate.length}`, reason: "TOO_LONG" });
  }
  if (event.tags.length > limits.maxTags) {
    violations.push(
      limitFieldViolation({ field: at("tags"), limit: "max-tags", max: limits.maxTags, actual: event.tags.length, description: `has ${event.tags.length} tags, over the limit of ${limits.maxTags}` }),
    );
  } else {
    for (let i = 0; i < event.tags.length; i++) {
      const tag = event.tags[i] as string;
      if (tag.length === 0) violations.push({ field: at(`tags[${i}]`), description: "must not be empty", reason: "REQUIRED" });
      else if (tag.length > limits.maxTagLength) checkText(violations, prefix, `tags[${i}]`, tag, limits.maxTagLength, "max-tag-length");
    }
  }
  checkAttributes(violations, prefix, event.attributes, limits);
  if (event.time !== undefined && !Number.isFinite(event.time.getTime())) violations.push(unrepresentableTime(at("time")));
  if (event.expireTime !== undefined && !Number.isFinite(event.expireTime.getTime())) violations.push(unrepresentableTime(at("expire_time")));
  return violations;
}

/**
 * Completes a valid envelope for storage: fills `id` (UUIDv7), `spec_version`
 * and `priority` when absent, and clears the fields only the server sets.
 */
export function completeEnvelope(event: Event): Event {
  return {
    ...event,
    id: event.id === "" ? newEventId() : event.id,
    specVersion: SPEC_VERSION,
    priority: event.priority ?? DEFAULT_PRIORITY,
    sequence: 0n,
    publishTime: undefined,
    schemaVersion: 0,
  };
}
