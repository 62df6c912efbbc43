/**
 * The limits on what a caller may send: schemas, regular expressions,
 * filters, patterns and envelopes. Each is a server flag (see `config.ts`)
 * with a default that an ordinary application never meets; a request over
 * one is refused before the work it would cost is done, with the error
 * `limitExceeded` builds (errors.ts), naming the flag.
 */

/** Limits on the input of every request. */
export interface InputLimits {
  /** Largest schema definition (JSON Schema text or descriptor set), in bytes. */
  readonly maxSchemaBytes: number;
  /** Deepest nesting of subschemas in a JSON Schema. */
  readonly maxSchemaDepth: number;
  /** Most subschemas (properties, items, allOf entries, definitions ...) in one JSON Schema document. */
  readonly maxSchemaProperties: number;
  /** Most message and enum types in one descriptor set. */
  readonly maxSchemaMessages: number;
  /**
   * Largest regular expression (JSON Schema `pattern` and `patternProperties`,
   * filter `matches`): in characters, and in RE2 program instructions (about
   * one per character, and one per repetition: `a{100}` is 100).
   */
  readonly maxRegexSize: number;
  /** Longest filter expression, in characters. */
  readonly maxFilterLength: number;
  /** Deepest nesting of a filter expression (parentheses, `!`, lists). */
  readonly maxFilterDepth: number;
  /** Most patterns in one subscription, consumer group or query. */
  readonly maxPatterns: number;
  /** Most attributes on one event. */
  readonly maxAttributes: number;
  /** Most bytes (UTF-8) of one event's attribute names and values together. */
  readonly maxAttributesBytes: number;
  /** Most tags on one event. */
  readonly maxTags: number;
  /** Longest tag, in characters. */
  readonly maxTagLength: number;
  /** Longest event id, in characters. */
  readonly maxIdLength: number;
  /** Longest event type, in characters. */
  readonly maxTypeLength: number;
  /** Longest event source, in characters. */
  readonly maxSourceLength: number;
  /** Longest other text attribute (subject, correlation and causation ids, ordering key, data schema, data content type), in characters. */
  readonly maxFieldLength: number;
  /** Deepest nesting of arrays and objects in a JSON payload. */
  readonly maxPayloadDepth: number;
  /** Memory kept for compiled schemas (validators of recently used versions), in bytes of their definitions. */
  readonly schemaCacheBytes: number;
}

/** The defaults of {@link InputLimits}. */
export const DEFAULT_INPUT_LIMITS: InputLimits = {
  maxSchemaBytes: 1024 * 1024,
  maxSchemaDepth: 32,
  maxSchemaProperties: 200,
  maxSchemaMessages: 1000,
  maxRegexSize: 1000,
  maxFilterLength: 4096,
  maxFilterDepth: 32,
  maxPatterns: 10_000,
  maxAttributes: 64,
  maxAttributesBytes: 64 * 1024,
  maxTags: 64,
  maxTagLength: 256,
  maxIdLength: 256,
  maxTypeLength: 256,
  maxSourceLength: 1024,
  maxFieldLength: 1024,
  maxPayloadDepth: 64,
  schemaCacheBytes: 64 * 1024 * 1024,
};

/** The input limits out of a larger settings object (the server config). */
export function pickInputLimits(settings: Partial<InputLimits>): InputLimits {
  const out: Record<string, number> = {};
  for (const key of Object.keys(DEFAULT_INPUT_LIMITS) as (keyof InputLimits)[]) out[key] = settings[key] ?? DEFAULT_INPUT_LIMITS[key];
  return out as unknown as InputLimits;
}
