/**
 * Server configuration, resolved in this order: command-line flags, then
 * `PROTOBUS_*` environment variables, then `protobus.yaml` (in the working
 * directory, or the file `--config`/`PROTOBUS_CONFIG` names), then defaults.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { BACKEND_CONFIG_KEYS, BACKEND_DEFAULTS, STORE_KINDS, type BackendSettings, type StoreKind } from "./storage/create-backend.js";
import { defineConfigKeys, widenKeys, type ConfigKey } from "./config-key.js";
import { boolean, httpUrl, integer, list, nonNegativeNumber, oneOf, parseDurationMs, text } from "./config-parsers.js";
import type { LogLevel } from "./logger.js";
import { DEFAULT_INPUT_LIMITS, type InputLimits } from "./limits.js";
import type { FlowMonitorRules } from "./flow/monitor-rules.js";

/** The rate-spike rule's settings, the flow monitor's own (`rateSpikeSigma`, `rateWindowMs`, `rateBucketMs`, `rateSpikeMinCount`). */
type RateSpikeRules = Pick<FlowMonitorRules, "rateSpikeSigma" | "rateWindowMs" | "rateBucketMs" | "rateSpikeMinCount">;

/** Everything `protobus serve` can be told; the input limits are documented in limits.ts. */
export interface ServerConfig extends InputLimits, BackendSettings, RateSpikeRules {
  /** Interface to listen on. */
  readonly host: string;
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** Storage backend; its settings come from its descriptor (storage/<backend>/descriptor.ts). */
  readonly store: StoreKind;
  /** Stored events one QueryEvents call looks at, at most; the rest comes with a page token. */
  readonly queryScanLimit: number;
  /** Largest accepted payload, in bytes. */
  readonly maxPayloadBytes: number;
  /** Most events in one publish request. */
  readonly maxBatchSize: number;
  /** Window in which a repeated event id is a duplicate, in ms. */
  readonly dedupeWindowMs: number;
  /** Subscription heartbeat interval in ms. */
  readonly heartbeatMs: number;
  /** How often the server pings an idle connection (HTTP/2 keepalive), in ms. */
  readonly keepaliveIntervalMs: number;
  /**
   * A connection whose ping is not answered within this many ms is closed;
   * its subscriptions end and a group member's deliveries return to the group.
   */
  readonly keepaliveTimeoutMs: number;
  /** Connections served at once; calls on one more are refused with RESOURCE_EXHAUSTED. */
  readonly maxConnections: number;
  /**
   * Ceiling, in bytes, of the event bytes held for readers: consumer-group
   * read-ahead and unacked deliveries together; readers wait when it is
   * reached. 0: a quarter of the machine's memory, at most half the V8 heap limit.
   */
  readonly memoryBudget: number;
  /** Most bytes of undelivered events one consumer group reads ahead. */
  readonly groupReadAheadBytes: number;
  /** Most bytes of unacked deliveries one subscription (broadcast or group member) holds; then it gets no more until it acks. */
  readonly maxUnackedBytes: number;
  /** Consumer groups loaded (with members) at once; opening one more is refused with RESOURCE_EXHAUSTED. */
  readonly maxGroups: number;
  /** A connection that has not opened HTTP/2 within this many ms is closed. */
  readonly handshakeTimeoutMs: number;
  /** Streams (calls) one connection may have open at once. */
  readonly maxStreamsPerConnection: number;
  /** Encoded bytes of large requests (64 KiB and up) received and waiting for their turn, all connections together; one connection may have a quarter. */
  readonly maxWaitingRequestBytes: number;
  /** How long shutdown waits for in-flight work before forcing, in ms. */
  readonly shutdownGraceMs: number;
  /** Log threshold. */
  readonly logLevel: LogLevel;
  /** Log line format. */
  readonly logFormat: "text" | "json";
  /** Port of the Prometheus `/metrics` endpoint (on `host`); 0 turns it off. */
  readonly metricsPort: number;
  /** Distinct event types with per-type metrics of their own; the rest are counted as `other`. */
  readonly metricsMaxTypes: number;
  /** Events whose consumer outcomes are kept for GetFlow; 0 turns recording off. */
  readonly flowOutcomes: number;
  /** Alert when a flow has no terminal event this long after it started, in ms; 0 turns it off. */
  readonly flowSlowAfterMs: number;
  /** Globs of the event types that open a watched flow (`*` matches anything, dots included). */
  readonly flowStartTypes: readonly string[];
  /** Globs of terminal event types (`*` matches anything, dots included). */
  readonly flowTerminalTypes: readonly string[];
  /**
   * Reject (FAILED_PRECONDITION) events whose type has no registered schema,
   * neither its own nor a matching pattern's. Off: such events are checked
   * for their envelope only.
   */
  readonly requireSchemas: boolean;
  /** Interface of the `/metrics` endpoint. */
  readonly metricsHost: string;
  /** PEM certificate chain of the server; with `tlsKey`, turns TLS on (gRPC and metrics). */
  readonly tlsCert: string;
  /** PEM private key of `tlsCert`. */
  readonly tlsKey: string;
  /** PEM CA bundle: clients must present a certificate it signed (mutual TLS); the certificate's CN is the principal. */
  readonly tlsClientCa: string;
  /** Allow listening on a non-loopback interface without TLS and authentication. */
  readonly insecure: boolean;
  /** File of hashed bearer tokens (`protobus token create`); turns token authentication on. */
  readonly tokenFile: string;
  /** JWKS URL that JWTs are verified against; turns JWT authentication on. */
  readonly jwksUrl: string;
  /** JWKS file that JWTs are verified against; turns JWT authentication on. */
  readonly jwksFile: string;
  /** Required JWT issuer (`iss`); empty accepts any. */
  readonly jwtIssuer: string;
  /** Required JWT audience (`aud`); empty accepts any. */
  readonly jwtAudience: string;
  /** Allowed clock difference when checking JWT times, in ms. */
  readonly jwtClockSkewMs: number;
  /** JWT claim naming the principal. */
  readonly jwtPrincipalClaim: string;
  /** JWT claim listing roles (an array, or a space-separated string). */
  readonly jwtRolesClaim: string;
  /** Fewest ms between two fetches of the JWKS URL. */
  readonly jwksRefreshMinMs: number;
  /** A fetched JWKS is fetched again after this long, in ms. */
  readonly jwksMaxAgeMs: number;
  /** The authorization policy (YAML); with authentication on and no policy, every call is refused. */
  readonly policy: string;
  /** How often certificate, token, JWKS and policy files are checked for changes, in ms (0: only on SIGHUP). */
  readonly securityReloadMs: number;
  /** Events per second each caller may publish (0: unlimited). */
  readonly limitEventsPerSecond: number;
  /** Events per minute each caller may publish (0: unlimited). */
  readonly limitEventsPerMinute: number;
  /** Events a caller may publish at once above its per-second rate (0: one second's worth). */
  readonly limitBurst: number;
  /** Payload bytes per second each caller may publish (0: unlimited). */
  readonly limitBytesPerSecond: number;
  /** Subscriptions each caller may hold open (0: unlimited). */
  readonly limitSubscriptions: number;
  /** Consumer groups each caller may be a member of at once (0: unlimited). */
  readonly limitGroups: number;
  /** Port of the web console (on `host`); 0 turns it off. */
  readonly consolePort: number;
  /** Live views the console streams at once, all browsers together; one more is refused with RESOURCE_EXHAUSTED. */
  readonly consoleMaxLiveViews: number;
  /**
   * Base URL of a Jaeger UI (`http://127.0.0.1:16686`): the console links an
   * event's trace id to `<url>/trace/<trace id>`. Empty: no links.
   */
  readonly jaegerUrl: string;
}

/** The defaults: `protobus serve` with nothing else. */
export const DEFAULT_CONFIG: ServerConfig = {
  host: "127.0.0.1",
  port: 50051,
  store: "sqlite",
  ...BACKEND_DEFAULTS,
  queryScanLimit: 20_000,
  maxPayloadBytes: 1024 * 1024,
  maxBatchSize: 10_000,
  dedupeWindowMs: 120_000,
  heartbeatMs: 15_000,
  keepaliveIntervalMs: 10_000,
  keepaliveTimeoutMs: 10_000,
  maxConnections: 4096,
  memoryBudget: 0,
  groupReadAheadBytes: 2 * 1024 * 1024,
  maxUnackedBytes: 16 * 1024 * 1024,
  maxGroups: 10_000,
  handshakeTimeoutMs: 10_000,
  maxStreamsPerConnection: 1000,
  maxWaitingRequestBytes: 64 * 1024 * 1024,
  shutdownGraceMs: 10_000,
  logLevel: "info",
  logFormat: "text",
  metricsPort: 0,
  metricsMaxTypes: 1000,
  flowOutcomes: 100_000,
  flowSlowAfterMs: 300_000,
  flowStartTypes: ["*.created", "*.started", "*.requested"],
  flowTerminalTypes: ["*.completed", "*.failed"],
  rateSpikeSigma: 4,
  rateWindowMs: 600_000,
  rateBucketMs: 30_000,
  rateSpikeMinCount: 20,
  requireSchemas: false,
  ...DEFAULT_INPUT_LIMITS,
  metricsHost: "127.0.0.1",
  tlsCert: "",
  tlsKey: "",
  tlsClientCa: "",
  insecure: false,
  tokenFile: "",
  jwksUrl: "",
  jwksFile: "",
  jwtIssuer: "",
  jwtAudience: "",
  jwtClockSkewMs: 30_000,
  jwtPrincipalClaim: "sub",
  jwtRolesClaim: "roles",
  jwksRefreshMinMs: 30_000,
  jwksMaxAgeMs: 600_000,
  policy: "",
  securityReloadMs: 1_000,
  limitEventsPerSecond: 0,
  limitEventsPerMinute: 0,
  limitBurst: 0,
  limitBytesPerSecond: 0,
  limitSubscriptions: 0,
  limitGroups: 0,
  consolePort: 0,
  consoleMaxLiveViews: 64,
  jaegerUrl: "",
};

type KeySpec = ConfigKey<ServerConfig>;

/** The server's keys listed before the backends' keys: where to listen, and which backend. */
const LEADING_KEYS = defineConfigKeys<ServerConfig>([
  { key: "host", yaml: "host", parse: text, description: "interface to listen on" },
  { key: "port", yaml: "port", parse: integer(0, 65535), description: "port to listen on (0 picks a free one)" },
  { key: "store", yaml: "store", parse: oneOf(STORE_KINDS), description: `storage backend: ${STORE_KINDS.join(", ")}` },
]);

/** The server's keys listed after the backends' keys. */
const SERVER_KEYS = defineConfigKeys<ServerConfig>([
  {
    key: "queryScanLimit",
    yaml: "query-scan-limit",
    parse: integer(100, 100_000_000),
    description: "stored events one QueryEvents call looks at, at most; the rest comes with a page token",
  },
  {
    key: "maxPayloadBytes",
    yaml: "max-payload-bytes",
    parse: integer(1, 64 * 1024 * 1024),
    description: "largest accepted event payload in bytes",
  },
  {
    key: "maxBatchSize",
    yaml: "max-batch-size",
    parse: integer(1, 1_000_000),
    description: "most events in one publish request",
  },
  {
    key: "dedupeWindowMs",
    yaml: "dedupe-window",
    parse: parseDurationMs,
    description: "an event id seen again within this window is a duplicate (0 turns it off)",
  },
  {
    key: "heartbeatMs",
    yaml: "heartbeat-interval",
    parse: parseDurationMs,
    description: "how often subscriptions get a heartbeat (0 turns them off)",
  },
  {
    key: "keepaliveIntervalMs",
    yaml: "keepalive-interval",
    parse: parseDurationMs,
    description: "how often the server pings each connection to detect dead peers",
  },
  {
    key: "keepaliveTimeoutMs",
    yaml: "keepalive-timeout",
    parse: parseDurationMs,
    description: "a connection that does not answer a ping within this is closed; group deliveries return to the group",
  },
  {
    key: "maxConnections",
    yaml: "max-connections",
    parse: integer(1, 1_000_000),
    description: "connections served at once; calls on one more get RESOURCE_EXHAUSTED",
  },
  {
    key: "memoryBudget",
    yaml: "memory-budget",
    parse: integer(0, 1024 * 1024 * 1024 * 1024),
    description: "bytes of events held for readers (group read-ahead and unacked deliveries together); readers wait when it is reached; 0: a quarter of RAM, at most half the V8 heap limit",
  },
  {
    key: "groupReadAheadBytes",
    yaml: "group-read-ahead-bytes",
    parse: integer(1024, 1024 * 1024 * 1024),
    description: "bytes of undelivered events one consumer group reads ahead; released when its last member leaves",
  },
  {
    key: "maxUnackedBytes",
    yaml: "max-unacked-bytes",
    parse: integer(1024, 1024 * 1024 * 1024),
    description: "bytes of unacked deliveries one subscription or group member holds; over it, it gets no more until it acks",
  },
  {
    key: "maxGroups",
    yaml: "max-groups",
    parse: integer(1, 1_000_000),
    description: "consumer groups loaded (opened by a member) at once; opening one more gets RESOURCE_EXHAUSTED",
  },
  {
    key: "handshakeTimeoutMs",
    yaml: "handshake-timeout",
    parse: parseDurationMs,
    description: "a connection that has not opened HTTP/2 within this is closed (0 turns it off)",
  },
  {
    key: "maxStreamsPerConnection",
    yaml: "max-streams-per-connection",
    parse: integer(1, 1_000_000),
    description: "streams (calls) one connection may have open at once; more wait for one to end",
  },
  {
    key: "maxWaitingRequestBytes",
    yaml: "max-waiting-request-bytes",
    parse: integer(64 * 1024, 1024 * 1024 * 1024 * 1024),
    description:
      "bytes of large requests (64 KiB and up) received and waiting to be decoded, one connection at most a quarter of it; past it a large request gets RESOURCE_EXHAUSTED with a retry delay",
  },
  {
    key: "shutdownGraceMs",
    yaml: "shutdown-grace",
    parse: parseDurationMs,
    description: "how long shutdown waits for in-flight calls",
  },
  {
    key: "logLevel",
    yaml: "log-level",
    parse: oneOf(["debug", "info", "warn", "error", "silent"] as const),
    description: "debug, info, warn, error or silent",
  },
  {
    key: "logFormat",
    yaml: "log-format",
    parse: oneOf(["text", "json"] as const),
    description: "text or json log lines",
  },
  {
    key: "metricsPort",
    yaml: "metrics-port",
    parse: integer(0, 65535),
    description: "port of the Prometheus /metrics endpoint (0 turns it off)",
  },
  {
    key: "metricsHost",
    yaml: "metrics-host",
    parse: text,
    description: "interface of the /metrics endpoint (https when TLS is on)",
  },
  {
    key: "metricsMaxTypes",
    yaml: "metrics-max-types",
    parse: integer(1, 1_000_000),
    description: "distinct event types with metrics (and GetDeliveryStats rows) of their own; the rest are counted as 'other'",
  },
  {
    key: "flowOutcomes",
    yaml: "flow-outcomes",
    parse: integer(0, 100_000_000),
    description: "events whose consumer outcomes GetFlow remembers (0 turns recording off)",
  },
  {
    key: "flowSlowAfterMs",
    yaml: "flow-slow-after",
    parse: parseDurationMs,
    description: "alert protobus.alert.flow_slow when a flow has no terminal event this long after it started (0 turns it off)",
  },
  {
    key: "flowStartTypes",
    yaml: "flow-start-types",
    parse: list,
    description: "comma-separated globs of the event types that open a watched flow (* matches anything)",
  },
  {
    key: "flowTerminalTypes",
    yaml: "flow-terminal-types",
    parse: list,
    description: "comma-separated globs of the event types that end a flow (* matches anything)",
  },
  {
    key: "rateSpikeSigma",
    yaml: "rate-spike-sigma",
    parse: nonNegativeNumber,
    description: "alert protobus.alert.rate_spike when a type's rate exceeds the window mean by this many standard deviations (0 turns it off)",
  },
  {
    key: "rateWindowMs",
    yaml: "rate-window",
    parse: parseDurationMs,
    description: "sliding window of the rate baseline",
  },
  {
    key: "rateBucketMs",
    yaml: "rate-bucket",
    parse: parseDurationMs,
    description: "length of one rate sample",
  },
  {
    key: "rateSpikeMinCount",
    yaml: "rate-spike-min-count",
    parse: integer(0, 1_000_000_000),
    description: "a sample with fewer events is never a spike",
  },
  {
    key: "requireSchemas",
    yaml: "require-schemas",
    parse: boolean,
    description: "reject events whose type has no registered schema (off: only their envelope is checked)",
    boolean: true,
  },
  // Input limits (limits.ts): a request over one is refused with the flag's name.
  {
    key: "maxSchemaBytes",
    yaml: "max-schema-bytes",
    parse: integer(1, 64 * 1024 * 1024),
    description: "largest schema definition (JSON Schema text or descriptor set) in bytes",
  },
  {
    key: "maxSchemaDepth",
    yaml: "max-schema-depth",
    parse: integer(1, 1000),
    description: "deepest nesting of subschemas in a JSON Schema",
  },
  {
    key: "maxSchemaProperties",
    yaml: "max-schema-properties",
    parse: integer(1, 1_000_000),
    description: "most subschemas (properties, items, allOf entries, definitions ...) in one JSON Schema",
  },
  {
    key: "maxSchemaMessages",
    yaml: "max-schema-messages",
    parse: integer(1, 1_000_000),
    description: "most message and enum types in one descriptor set",
  },
  {
    key: "maxRegexSize",
    yaml: "max-regex-size",
    parse: integer(1, 1_000_000),
    description: "largest regular expression (JSON Schema pattern, filter matches), in characters and in RE2 program instructions",
  },
  {
    key: "maxFilterLength",
    yaml: "max-filter-length",
    parse: integer(1, 1_000_000),
    description: "longest subscription filter expression, in characters",
  },
  {
    key: "maxFilterDepth",
    yaml: "max-filter-depth",
    parse: integer(1, 1000),
    description: "deepest nesting of a filter expression (parentheses, !, lists)",
  },
  {
    key: "maxPatterns",
    yaml: "max-patterns",
    parse: integer(1, 10_000_000),
    description: "most patterns in one subscription, consumer group or query",
  },
  {
    key: "maxAttributes",
    yaml: "max-attributes",
    parse: integer(0, 1_000_000),
    description: "most attributes on one event",
  },
  {
    key: "maxAttributesBytes",
    yaml: "max-attributes-bytes",
    parse: integer(0, 64 * 1024 * 1024),
    description: "most bytes of one event's attribute names and values together (UTF-8)",
  },
  {
    key: "maxTags",
    yaml: "max-tags",
    parse: integer(0, 1_000_000),
    description: "most tags on one event",
  },
  {
    key: "maxTagLength",
    yaml: "max-tag-length",
    parse: integer(1, 1_000_000),
    description: "longest tag, in characters",
  },
  {
    key: "maxIdLength",
    yaml: "max-id-length",
    parse: integer(1, 1_000_000),
    description: "longest event id, in characters",
  },
  {
    key: "maxTypeLength",
    yaml: "max-type-length",
    parse: integer(3, 1_000_000),
    description: "longest event type, in characters",
  },
  {
    key: "maxSourceLength",
    yaml: "max-source-length",
    parse: integer(1, 1_000_000),
    description: "longest event source, in characters",
  },
  {
    key: "maxFieldLength",
    yaml: "max-field-length",
    parse: integer(1, 1_000_000),
    description: "longest other text attribute (subject, correlation and causation ids, ordering key, data schema, data content type), in characters",
  },
  {
    key: "maxPayloadDepth",
    yaml: "max-payload-depth",
    parse: integer(1, 10_000),
    description: "deepest nesting of arrays and objects in a JSON payload",
  },
  {
    key: "schemaCacheBytes",
    yaml: "schema-cache-bytes",
    parse: integer(1, 16 * 1024 * 1024 * 1024),
    description: "memory for parsed and compiled schema versions, counted in bytes of their definitions (least recently used are dropped)",
  },
  { key: "tlsCert", yaml: "tls-cert", parse: text, description: "PEM certificate chain of the server; with --tls-key turns TLS on (reloaded when it changes and on SIGHUP)", path: true },
  { key: "tlsKey", yaml: "tls-key", parse: text, description: "PEM private key of --tls-cert", path: true },
  {
    key: "tlsClientCa",
    yaml: "tls-client-ca",
    parse: text,
    description: "PEM CA bundle for mutual TLS: clients need a certificate it signed; its subject CN is the principal, OUs its roles",
    path: true,
  },
  {
    key: "insecure",
    yaml: "insecure",
    parse: boolean,
    description: "allow listening on a non-loopback interface without TLS and authentication (logged as a warning)",
    boolean: true,
  },
  { key: "tokenFile", yaml: "token-file", parse: text, description: "file of hashed bearer tokens (protobus token create); turns token authentication on", path: true },
  { key: "jwksUrl", yaml: "jwks-url", parse: text, description: "JWKS URL JWTs are verified against; turns JWT authentication on" },
  { key: "jwksFile", yaml: "jwks-file", parse: text, description: "JWKS file JWTs are verified against; turns JWT authentication on", path: true },
  { key: "jwtIssuer", yaml: "jwt-issuer", parse: text, description: "required JWT issuer (iss); empty accepts any" },
  { key: "jwtAudience", yaml: "jwt-audience", parse: text, description: "required JWT audience (aud); empty accepts any" },
  { key: "jwtClockSkewMs", yaml: "jwt-clock-skew", parse: parseDurationMs, description: "allowed clock difference when checking JWT exp/nbf" },
  { key: "jwtPrincipalClaim", yaml: "jwt-principal-claim", parse: text, description: "JWT claim naming the principal" },
  { key: "jwtRolesClaim", yaml: "jwt-roles-claim", parse: text, description: "JWT claim listing roles (array or space-separated)" },
  {
    key: "jwksRefreshMinMs",
    yaml: "jwks-refresh-min",
    parse: parseDurationMs,
    description: "fewest time between two fetches of the JWKS URL (a token with an unknown key id triggers one)",
  },
  { key: "jwksMaxAgeMs", yaml: "jwks-max-age", parse: parseDurationMs, description: "a fetched JWKS is fetched again after this long (retired keys stop working)" },
  { key: "policy", yaml: "policy", parse: text, description: "authorization policy file (YAML, reloaded when it changes); with authentication on and no policy every call is refused", path: true },
  {
    key: "securityReloadMs",
    yaml: "security-reload-interval",
    parse: parseDurationMs,
    description: "how often certificate, token, JWKS and policy files are checked for changes (0: only on SIGHUP)",
  },
  { key: "limitEventsPerSecond", yaml: "limit-events-per-second", parse: nonNegativeNumber, description: "events per second each principal (or connection, without auth) may publish; 0 is unlimited" },
  { key: "limitEventsPerMinute", yaml: "limit-events-per-minute", parse: nonNegativeNumber, description: "events per minute each principal or connection may publish; 0 is unlimited" },
  { key: "limitBurst", yaml: "limit-burst", parse: nonNegativeNumber, description: "events a caller may publish at once above its per-second rate (0: one second's worth)" },
  { key: "limitBytesPerSecond", yaml: "limit-bytes-per-second", parse: nonNegativeNumber, description: "payload bytes per second each principal or connection may publish; 0 is unlimited" },
  { key: "limitSubscriptions", yaml: "limit-subscriptions", parse: integer(0, 1_000_000), description: "subscriptions each principal or connection may hold open; 0 is unlimited" },
  { key: "limitGroups", yaml: "limit-groups", parse: integer(0, 1_000_000), description: "consumer groups each principal or connection may be a member of at once; 0 is unlimited" },
  {
    key: "consolePort",
    yaml: "console-port",
    parse: integer(0, 65535),
    description: "port of the web console on the same host (0 turns it off)",
  },
  {
    key: "consoleMaxLiveViews",
    yaml: "console-max-live-views",
    parse: integer(1, 100_000),
    description: "live views the console streams at once, all browsers together (each may hold 1 MiB unsent)",
  },
  {
    key: "jaegerUrl",
    yaml: "jaeger-url",
    parse: httpUrl,
    description: "base URL of a Jaeger UI; the console links each event's trace there",
  },
]);

/** Every configuration key, documented; the README's config table comes from here. */
export const CONFIG_KEYS: readonly KeySpec[] = [...LEADING_KEYS, ...widenKeys<ServerConfig, BackendSettings>(BACKEND_CONFIG_KEYS), ...SERVER_KEYS];

/** Where the configuration is read from. */
export interface ConfigSources {
  /** Values given as flags, keyed by the yaml name (kebab-case). */
  readonly flags?: Readonly<Record<string, string | undefined>>;
  /** The environment; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Path of the config file; `PROTOBUS_CONFIG` or ./protobus.yaml by default. */
  readonly configFile?: string;
  /** Directory relative paths resolve against; the working directory by default. */
  readonly cwd?: string;
}

export { parseDurationMs };

/** Resolves the configuration. Throws a RangeError naming the bad source and value. */
export function loadConfig(sources: ConfigSources = {}): ServerConfig {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const explicitFile = sources.configFile ?? env.PROTOBUS_CONFIG;
  const file = resolve(cwd, explicitFile ?? "protobus.yaml");
  let fileValues: Record<string, unknown> = {};
  if (existsSync(file)) {
    const parsed: unknown = parseYaml(readFileSync(file, "utf8"));
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== "object" || Array.isArray(parsed)) throw new RangeError(`${file}: expected a mapping of settings`);
      fileValues = parsed as Record<string, unknown>;
    }
    const known = new Set(CONFIG_KEYS.map((k) => k.yaml));
    for (const name of Object.keys(fileValues)) {
      if (!known.has(name)) throw new RangeError(`${file}: unknown setting '${name}' (known: ${[...known].join(", ")})`);
    }
  } else if (explicitFile !== undefined) {
    throw new RangeError(`config file ${file} does not exist`);
  }
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  for (const spec of CONFIG_KEYS) {
    const flag = sources.flags?.[spec.yaml];
    const fromEnv = env[spec.env];
    const fromFile = fileValues[spec.yaml];
    if (flag !== undefined) config[spec.key] = spec.parse(flag, `--${spec.yaml}`);
    else if (fromEnv !== undefined && fromEnv !== "") config[spec.key] = spec.parse(fromEnv, spec.env);
    else if (fromFile !== undefined && fromFile !== null) config[spec.key] = spec.parse(String(fromFile), `${file}: ${spec.yaml}`);
  }
  for (const spec of CONFIG_KEYS) {
    if (spec.path === true && config[spec.key] !== "") config[spec.key] = resolve(cwd, config[spec.key] as string);
  }
  return config as unknown as ServerConfig;
}
