/**
 * @protobus/server: run a protobus server in your own process, or through
 * the `protobus` command.
 */
export { startServer } from "./server.js";
export { SERVED_SERVICES } from "./transport/services.js";
export type { ProtobusServer, StartServerOptions } from "./server.js";
export { CONFIG_KEYS, DEFAULT_CONFIG, loadConfig, parseDurationMs } from "./config.js";
export type { ConfigSources, ServerConfig } from "./config.js";
export { DEFAULT_INPUT_LIMITS, pickInputLimits } from "./limits.js";
export type { InputLimits } from "./limits.js";
export type { LimitViolation } from "./errors.js";
export { isReservedType, RESERVED_NAMESPACE, RESERVED_PREFIX, reservedNamespaceError } from "./bus/reserved-namespace.js";
export { compileLinearRegex, RegexError } from "./regex/linear-regex.js";
export type { LinearRegex } from "./regex/linear-regex.js";
export { EventBus } from "./bus/event-bus.js";
export type { AcceptedListener, EventBusOptions, PublishOptions } from "./bus/event-bus.js";
export { callContext } from "./transport/call-context.js";
export type { CallContext, CallKind, CallStatus, Interceptor, Principal } from "./transport/interceptor.js";
export { interceptorChain } from "./transport/interceptor-chain.js";
export type { InterceptorChainOptions } from "./transport/interceptor-chain.js";
export { createServerInterceptor, serverInterceptors } from "./transport/server-interceptors.js";
export type { SecurityInterceptors, ServerInterceptorOptions } from "./transport/server-interceptors.js";
export { createLogger } from "./logger.js";
export type { Logger, LoggerOptions, LogLevel } from "./logger.js";
export { createBackend, STORE_KINDS } from "./storage/create-backend.js";
export type { BackendConfig, StoreKind } from "./storage/create-backend.js";
export { createMemoryBackend } from "./storage/memory/index.js";
export type { MemoryBackendOptions } from "./storage/memory/index.js";
export { createSqliteBackend } from "./storage/sqlite/index.js";
export type { SqliteBackendOptions, SqliteStorageBackend } from "./storage/sqlite/index.js";
export type { BacklogReadStats } from "./storage/sqlite/backlog-reader.js";
export type { CheckpointStats } from "./storage/sqlite/checkpointer.js";
export { createJetStreamBackend } from "./storage/jetstream/index.js";
export type { JetStreamBackendOptions, NatsConnectionOptions } from "./storage/jetstream/index.js";
export { StoredEvent, encodeEnvelopes } from "./storage/stored-event.js";
export type {
  AppendListener,
  AppendOptions,
  AppendResult,
  BackendInfo,
  BackendMetric,
  HistoryQuery,
  ReadRequest,
  ReadResult,
  StorageBackend,
} from "./storage/backend.js";
export { DEFAULT_GROUP_SETTINGS } from "./storage/group-store.js";
export type {
  AckOptions,
  ActedListener,
  DeadLetter,
  DeadLetterQuery,
  DeadLetterSelection,
  GroupDefinition,
  GroupDelivery,
  GroupHandle,
  GroupSettings,
  GroupStats,
  GroupStore,
  NackOptions,
  OpenGroupRequest,
} from "./storage/group-store.js";
export { EngineGroupStore } from "./storage/groups/engine-group-store.js";
export type { EngineGroupStoreOptions } from "./storage/groups/engine-group-store.js";
export type { EventSource } from "./storage/groups/event-source.js";
export type { GroupPersistence } from "./storage/groups/group-persistence.js";
export { backoffDelay } from "./storage/groups/group-engine.js";
export { compileFilter, filterError, FilterSyntaxError } from "./filter/filter-expression.js";
export type { EventPredicate } from "./filter/filter-expression.js";
export { COMPATIBILITY_MODES, SchemaFormat } from "./storage/schema-store.js";
export type {
  CompatibilityMode,
  RegistrationContext,
  RegistrationDecider,
  RegistrationDecision,
  RegistrationOutcome,
  SchemaChangeListener,
  SchemaDraft,
  SchemaStore,
  StoredSchema,
} from "./storage/schema-store.js";
export { checkCompatibility, CANDIDATE_LABEL } from "./registry/compatibility.js";
export type { CompatibilityDirection, CompatibilityViolation, VersionedSchema } from "./registry/compatibility.js";
export { DefinitionError, parseDefinition } from "./registry/schema-definition.js";
export type { JsonSchema, ParsedJsonSchema, ParsedProtobufSchema, ParsedSchema } from "./registry/schema-definition.js";
export { BASE_SUBJECT, DEFAULT_COMPATIBILITY, SchemaRegistry, subjectError } from "./registry/schema-registry.js";
export type { CheckResult, CompatibilityInfo, RegisterResult, SchemaInput, SchemaRegistryOptions } from "./registry/schema-registry.js";
export { SchemaValidator, envelopeJson } from "./registry/payload-validator.js";
export type { SchemaValidatorOptions } from "./registry/payload-validator.js";
export type { PublishValidation, PublishValidator } from "./bus/publish-validator.js";
export { VERSION } from "./version.js";
export { startTracing } from "./telemetry/tracing-setup.js";
export type { StartTracingOptions, TracingHandle } from "./telemetry/tracing-setup.js";
export { BusMetrics } from "./telemetry/metrics.js";
export type { BacklogSource } from "./telemetry/metrics.js";
export { startMetricsServer } from "./telemetry/metrics-server.js";
export type { MetricsServer, MetricsServerOptions, ScrapeGate } from "./telemetry/metrics-server.js";
export { combineObservers } from "./telemetry/delivery-observer.js";
export type { Consumer, DeliveryObserver } from "./telemetry/delivery-observer.js";
export { FlowMonitor } from "./flow/monitor.js";
export type { FlowMonitorOptions } from "./flow/monitor.js";
export { FLOW_SLOW_ALERT, MONITOR_SOURCE, RATE_SPIKE_ALERT } from "./flow/monitor-rules.js";
export type { FlowMonitorRules } from "./flow/monitor-rules.js";
export { OutcomeRecorder } from "./flow/outcome-recorder.js";
export { getFlow, MAX_FLOW_EVENTS } from "./flow/get-flow.js";
export { bearerCredential, chainAuthenticators } from "./security/authenticator.js";
export type { Authenticator, Credentials } from "./security/authenticator.js";
export { TokenAuthenticator } from "./security/token-authenticator.js";
export type { TokenAuthenticatorOptions } from "./security/token-authenticator.js";
export { createToken, principalNameError, readTokenFile, revokeTokens, TokenTable } from "./security/token-file.js";
export type { NewToken, TokenRecord } from "./security/token-file.js";
export { JwtAuthenticator } from "./security/jwt-authenticator.js";
export type { JwtAuthenticatorOptions } from "./security/jwt-authenticator.js";
export { CertificateAuthenticator, principalOfCertificate } from "./security/certificate-authenticator.js";
export { TlsCertificates } from "./security/tls-credentials.js";
export type { TlsFiles } from "./security/tls-credentials.js";
export { checkBind, isLoopbackHost } from "./security/bind-guard.js";
export type { BindProtection } from "./security/bind-guard.js";
export { Access, CompiledPolicy, EMPTY_POLICY, parsePolicy } from "./security/policy.js";
export type { Grant, PolicyDocument } from "./security/policy.js";
export { PolicyFile } from "./security/policy-file.js";
export type { PolicyFileOptions } from "./security/policy-file.js";
export { ADMIN_RIGHTS, GROUP_RIGHTS, Permission, SCHEMA_RIGHTS } from "./security/permission.js";
export type { AdminRight } from "./security/permission.js";
export { Authorizer, checkAccess } from "./security/authorizer.js";
export { OPEN_SERVICES, RPC_RULES, ruleOf } from "./security/rpc-rules.js";
export type { Requirement, RpcRule } from "./security/rpc-rules.js";
export { LIMIT_NAMES, UNLIMITED } from "./security/limits.js";
export type { Limits } from "./security/limits.js";
export { TokenBucket } from "./security/token-bucket.js";
export { RateLimiter } from "./security/rate-limiter.js";
export type { LimitSubject, RateLimiterOptions } from "./security/rate-limiter.js";
export { AUDIT_ADMIN_TYPE, AUDIT_DENIED_TYPE, AUDIT_SOURCE, AuditLog } from "./security/audit-log.js";
export type { AuditLogOptions, AuditRecord } from "./security/audit-log.js";
export { CredentialRejected, UNAUTHENTICATED_MESSAGE, permissionDenied, resourceExhausted, unauthenticated } from "./security/security-errors.js";
export type { QuotaViolation } from "./security/security-errors.js";
export { authConfigured, configuredLimits, createSecurity } from "./security/security-setup.js";
export type { Security, SecurityContext, SecurityLinks } from "./security/security-setup.js";
export { authenticateHttp, httpCredentials } from "./security/http-auth.js";
