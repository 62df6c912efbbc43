/**
 * Validated publish: each event's payload is checked against the latest
 * schema of its type, else of the most specific pattern matching it
 * (`agent.task.*` before `agent.>`), and its envelope against the base
 * schema (`_base`) when one is registered.
 *
 * Built for the publish path: the subjects are indexed once, the schema
 * resolved for each event type and the validator compiled for each schema
 * version are cached, so a publish of known types runs synchronously; any
 * change in the store drops the index and the type resolutions (compiled
 * versions stay, they never change). A batch whose checks outlast a turn
 * slice (large payloads) goes on in later turns of the event loop.
 */
import type { Event } from "@protobus/sdk/proto";
import type { PublishValidation, PublishValidator } from "../bus/publish-validator.js";
import type { FieldViolation, PreconditionViolation } from "../errors.js";
import type { StoredSchema } from "../storage/schema-store.js";
import { allDescribed, compileJsonSchema, type JsonValidator, type JsonViolations } from "./json-schema-validator.js";
import { checkProtobufBinary, checkProtobufJson, type PayloadViolation } from "./protobuf-payload.js";
import { BASE_SUBJECT, type SchemaRegistry } from "./schema-registry.js";
import { createVersionCache } from "./version-cache.js";
import { jsonNestingDepth } from "./json-schema-limits.js";
import { NotJson, parseJsonPayload } from "./json-payload.js";
import { LIMIT_EXCEEDED, MAX_LISTED_VIOLATIONS } from "../errors.js";
import { putExtensionsJson } from "../envelope-extensions-json.js";
import { TURN_SLICE_MS, TurnSlice } from "../turn-slice.js";

/** Options of {@link SchemaValidator}. */
export interface SchemaValidatorOptions {
  /** Reject events whose type has no schema (FAILED_PRECONDITION); otherwise only their envelope is checked. */
  readonly requireSchemas: boolean;
  /** How long checking one batch may hold the event loop before it goes on in a later turn (default {@link TURN_SLICE_MS}). */
  readonly turnSliceMs?: number;
}

/** Checks a payload, describing at least its first `limit` violations when it has any (it may describe more). */
type PayloadCheck = (contentType: string, data: Uint8Array, limit: number) => JsonViolations;

interface Resolved {
  readonly schema: StoredSchema;
  readonly check: PayloadCheck;
}

interface Compiled {
  readonly check: PayloadCheck;
  readonly bytes: number;
}

// Resolutions of event types to schemas are dropped past this many: callers choose the types.
const MAX_RESOLVED_TYPES = 10_000;

interface Index {
  readonly exact: Map<string, StoredSchema>;
  /** Pattern subjects, most specific first. */
  readonly patterns: { readonly schema: StoredSchema; readonly regex: RegExp }[];
  readonly base: JsonValidator | undefined;
}

// Binary payloads: the Protobuf media types, and raw bytes sent without one.
const PROTOBUF_TYPES = new Set(["application/protobuf", "application/x-protobuf", "application/vnd.google.protobuf", "application/octet-stream"]);

function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(";");
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

function isJson(media: string): boolean {
  return media === "application/json" || media.endsWith("+json");
}

/**
 * True when `data` holds at most `max` opening brackets (`{`, `[`), so that
 * it cannot nest deeper than `max`: found with native searches, where the
 * full scan of {@link jsonNestingDepth} visits every byte in JavaScript
 * (about half of what validating a small record cost besides parsing it).
 */
function fewBrackets(data: Uint8Array, max: number): boolean {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let count = 0;
  for (let at = bytes.indexOf(0x7b); at >= 0; at = bytes.indexOf(0x7b, at + 1)) if (++count > max) return false;
  for (let at = bytes.indexOf(0x5b); at >= 0; at = bytes.indexOf(0x5b, at + 1)) if (++count > max) return false;
  return true;
}

/** A violation when a JSON payload nests arrays and objects deeper than `max`; checked on the bytes, before parsing. */
function tooDeep(data: Uint8Array, max: number): PayloadViolation[] | undefined {
  if (fewBrackets(data, max)) return undefined;
  const depth = jsonNestingDepth(data, max);
  if (depth <= max) return undefined;
  return [{ path: "", description: `nests arrays and objects more than ${max} deep (limit max-payload-depth=${max})`, keyword: LIMIT_EXCEEDED }];
}

function patternRegex(pattern: string): RegExp {
  const source = pattern
    .split(".")
    .map((token) => (token === "*" ? "[^.]+" : token === ">" ? "[^.]+(?:\\.[^.]+)*" : token))
    .join("\\.");
  return new RegExp(`^${source}$`);
}

/**
 * Orders patterns most specific first: more literal tokens; then without
 * `>`; then the later the first wildcard; then by name, for determinism.
 */
export function bySpecificity(a: string, b: string): number {
  const rank = (p: string) => {
    const tokens = p.split(".");
    const literals = tokens.filter((t) => t !== "*" && t !== ">").length;
    const firstWildcard = tokens.findIndex((t) => t === "*" || t === ">");
    return { literals, full: p.endsWith(">") ? 1 : 0, firstWildcard, length: tokens.length };
  };
  const x = rank(a);
  const y = rank(b);
  return y.literals - x.literals || x.full - y.full || y.firstWildcard - x.firstWildcard || y.length - x.length || (a < b ? -1 : a > b ? 1 : 0);
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * A base schema violation's path into the envelope's JSON, with its first
 * name as the proto field (`dataContentType` → `data_content_type`); the
 * rest, keys of maps such as `attributes["Team.Lead"]` included, as it is.
 */
function envelopeFieldPath(path: string): string {
  const head = /^[A-Za-z_][A-Za-z0-9_]*/.exec(path)?.[0] ?? "";
  return snake(head) + path.slice(head.length);
}

/** The envelope as canonical proto JSON (fields at their default are left out), for the base schema. */
export function envelopeJson(event: Event): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (event.id !== "") out.id = event.id;
  if (event.source !== "") out.source = event.source;
  if (event.type !== "") out.type = event.type;
  if (event.specVersion !== "") out.specVersion = event.specVersion;
  if (event.time !== undefined) out.time = event.time.toISOString();
  if (event.subject !== "") out.subject = event.subject;
  if (event.dataContentType !== "") out.dataContentType = event.dataContentType;
  if (event.dataSchema !== "") out.dataSchema = event.dataSchema;
  putExtensionsJson(event, out);
  if (event.tracestate !== "") out.tracestate = event.tracestate;
  if (Object.keys(event.attributes).length > 0) out.attributes = event.attributes;
  return out;
}

/** The registry's {@link PublishValidator}. */
export class SchemaValidator implements PublishValidator {
  readonly #registry: SchemaRegistry;
  readonly #requireSchemas: boolean;
  readonly #turnSliceMs: number;
  readonly #compiled: ReturnType<typeof createVersionCache<Compiled>>;
  readonly #byType = new Map<string, Resolved | null>();
  #index: Index | undefined;
  #loading: Promise<Index> | undefined;
  #generation = 0;
  readonly #unsubscribe: () => void;

  constructor(registry: SchemaRegistry, options: SchemaValidatorOptions) {
    this.#registry = registry;
    this.#requireSchemas = options.requireSchemas;
    this.#turnSliceMs = options.turnSliceMs ?? TURN_SLICE_MS;
    this.#compiled = createVersionCache<Compiled>(registry.limits.schemaCacheBytes, (c) => c.bytes);
    this.#unsubscribe = registry.store.onChange(() => this.invalidate());
  }

  /** Drops the subject index and type resolutions; the next publish reloads them. */
  invalidate(): void {
    this.#generation += 1;
    this.#index = undefined;
    this.#loading = undefined;
    this.#byType.clear();
  }

  /** Stops following store changes. */
  close(): void {
    this.#unsubscribe();
  }

  validate(events: readonly Event[]): PublishValidation | Promise<PublishValidation> {
    const index = this.#index;
    if (index !== undefined) return this.#validateWith(index, events);
    return this.#load().then((loaded) => this.#validateWith(loaded, events));
  }

  #load(): Promise<Index> {
    if (this.#loading !== undefined) return this.#loading;
    const generation = this.#generation;
    const loading = this.#registry.list().then((schemas) => {
      const exact = new Map<string, StoredSchema>();
      const patterns: Index["patterns"] = [];
      let base: JsonValidator | undefined;
      for (const schema of schemas) {
        if (schema.subject === BASE_SUBJECT) {
          const parsed = this.#registry.parsed(schema);
          if (parsed.format === "JSON_SCHEMA") base = compileJsonSchema(parsed.schema);
        } else if (schema.subject.includes("*") || schema.subject.includes(">")) {
          patterns.push({ schema, regex: patternRegex(schema.subject) });
        } else {
          exact.set(schema.subject, schema);
        }
      }
      patterns.sort((a, b) => bySpecificity(a.schema.subject, b.schema.subject));
      const index: Index = { exact, patterns, base };
      // A change while loading makes this index stale: use it for this call only.
      if (generation === this.#generation) this.#index = index;
      return index;
    });
    this.#loading = loading;
    // A failed load must not stick: the next publish tries again.
    loading.catch(() => {
      if (this.#loading === loading) this.#loading = undefined;
    });
    return loading;
  }

  #checkFor(schema: StoredSchema): PayloadCheck {
    const key = `${schema.subject}@${schema.version}`;
    const cached = this.#compiled.get(key);
    if (cached !== undefined) return cached.check;
    let check: PayloadCheck;
    const maxDepth = this.#registry.limits.maxPayloadDepth;
    const parsed = this.#registry.parsed(schema);
    if (parsed.format === "PROTOBUF") {
      const desc = parsed.message;
      check = (contentType, data, limit) => {
        const media = mediaType(contentType);
        if (media === "" || PROTOBUF_TYPES.has(media)) return checkProtobufBinary(desc, data, limit);
        if (isJson(media)) {
          const deep = tooDeep(data, maxDepth);
          return deep !== undefined ? allDescribed(deep) : checkProtobufJson(desc, data, limit);
        }
        return allDescribed([{ path: "", description: `has content type '${contentType}', but ${desc.typeName} payloads must be application/protobuf or application/json`, keyword: "content_type" }]);
      };
    } else {
      const validate = compileJsonSchema(parsed.schema, schema.definition.length);
      check = (contentType, data, limit) => {
        const media = mediaType(contentType);
        if (media !== "" && !isJson(media)) {
          return allDescribed([{ path: "", description: `has content type '${contentType}', but schema '${schema.subject}' is a JSON Schema: send application/json`, keyword: "content_type" }]);
        }
        const deep = tooDeep(data, maxDepth);
        if (deep !== undefined) return allDescribed(deep);
        const value = parseJsonPayload(data);
        return value instanceof NotJson ? allDescribed([value.violation]) : validate(value, limit);
      };
    }
    this.#compiled.set(key, { check, bytes: schema.definition.length });
    return check;
  }

  #resolve(index: Index, type: string): Resolved | null {
    const cached = this.#byType.get(type);
    if (cached !== undefined) return cached;
    const schema = index.exact.get(type) ?? index.patterns.find((p) => p.regex.test(type))?.schema;
    const resolved = schema === undefined ? null : { schema, check: this.#checkFor(schema) };
    if (index === this.#index) {
      if (this.#byType.size >= MAX_RESOLVED_TYPES) this.#byType.clear();
      this.#byType.set(type, resolved);
    }
    return resolved;
  }

  #validateWith(index: Index, events: readonly Event[]): PublishValidation | Promise<PublishValidation> {
    return this.#validateFrom(index, events, new BatchFindings(events.length), 0, new TurnSlice(this.#turnSliceMs));
  }

  /**
   * Checks the events from `start` on; when the slice is spent before the
   * last, goes on in a later turn of the event loop (see turn-slice.ts), so
   * a batch of large payloads does not hold up every other call.
   */
  #validateFrom(index: Index, events: readonly Event[], found: BatchFindings, start: number, slice: TurnSlice): PublishValidation | Promise<PublishValidation> {
    for (let i = start; i < events.length; i++) {
      const event = events[i] as Event;
      this.#validateEvent(index, event, i, found);
      if (i + 1 < events.length && slice.spent(event.data.byteLength)) {
        return slice.next().then(() => this.#validateFrom(index, events, found, i + 1, slice));
      }
    }
    return found.validation();
  }

  #validateEvent(index: Index, event: Event, i: number, found: BatchFindings): void {
    const resolved = this.#resolve(index, event.type);
    if (resolved === null) {
      if (this.#requireSchemas && found.preconditionCount++ < MAX_LISTED_VIOLATIONS) {
        found.preconditions.push({
          type: "SCHEMA_REQUIRED",
          subject: `events[${i}].type`,
          description: `no schema is registered for event type '${event.type}' or a pattern matching it, and this server requires one (register it with \`protobus schema push\`)`,
        });
      }
    } else {
      found.schemaVersions[i] = resolved.schema.version;
      const payload = resolved.check(event.dataContentType, event.data, found.room);
      // `items[0]`-style paths start with a name; a top-level index or a quoted key (`[1]`, `["meta-size"]`) with a bracket.
      if (payload.count > 0) found.add(i, payload, (path) => (path === "" || path.startsWith("[") ? `events[${i}].data${path}` : `events[${i}].data.${path}`));
    }
    if (index.base !== undefined) {
      const envelope = index.base(envelopeJson(event), found.room);
      if (envelope.count > 0) {
        found.add(i, envelope, (path) => {
          const field = envelopeFieldPath(path);
          return field === "" ? `events[${i}]` : `events[${i}].${field}`;
        }, ` (base schema '${BASE_SUBJECT}')`);
      }
    }
  }
}

/**
 * What the checks of a batch found so far: the first
 * {@link MAX_LISTED_VIOLATIONS} violations described, every one counted,
 * and which events had any; the preconditions likewise; each event's schema
 * version. Describing a violation (its path, its text) costs far more than
 * finding it, and a hostile batch can hold millions.
 */
class BatchFindings {
  readonly listed: FieldViolation[] = [];
  readonly events: number[] = [];
  count = 0;
  readonly preconditions: PreconditionViolation[] = [];
  preconditionCount = 0;
  readonly schemaVersions: number[];

  constructor(size: number) {
    this.schemaVersions = new Array<number>(size).fill(0);
  }

  validation(): PublishValidation {
    const { listed, count, events, preconditions, preconditionCount, schemaVersions } = this;
    return { violations: listed, violationCount: count, invalidEvents: events, preconditions, preconditionCount, schemaVersions };
  }

  /** How many more violations are worth describing. */
  get room(): number {
    return MAX_LISTED_VIOLATIONS - this.listed.length;
  }

  add(event: number, found: JsonViolations, field: (path: string) => string, suffix = ""): void {
    if (this.events[this.events.length - 1] !== event) this.events.push(event);
    this.count += found.count;
    for (const v of found.first) {
      if (this.listed.length >= MAX_LISTED_VIOLATIONS) break;
      this.listed.push({ field: field(v.path), description: `${v.description}${suffix}`, reason: v.keyword.toUpperCase() });
    }
  }
}
