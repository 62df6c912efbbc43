/**
 * Builds the security of one server from its configuration: TLS
 * credentials, the authenticators, the policy, the rate limiter and the
 * audit trail, and the three links they form in the interceptor chain
 * (authentication, authorization, rate limits). `reload()` (SIGHUP) reads
 * every watched file again at once.
 */
import { ServerCredentials } from "@grpc/grpc-js";
import type { Event, PublishResult } from "@protobus/sdk/proto";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { BusMetrics } from "../telemetry/metrics.js";
import type { ScrapeGate } from "../telemetry/metrics-server.js";
import type { Interceptor } from "../transport/interceptor.js";
import { AuditLog } from "./audit-log.js";
import { authenticationInterceptor } from "./authentication-interceptor.js";
import { chainAuthenticators, type Authenticator } from "./authenticator.js";
import { authorizationInterceptor } from "./authorization-interceptor.js";
import { Authorizer } from "./authorizer.js";
import { CertificateAuthenticator } from "./certificate-authenticator.js";
import { JwtAuthenticator } from "./jwt-authenticator.js";
import { authenticateHttp } from "./http-auth.js";
import { hasLimits, type Limits } from "./limits.js";
import { Permission } from "./permission.js";
import { PolicyFile } from "./policy-file.js";
import { rateLimitInterceptor } from "./rate-limit-interceptor.js";
import { RateLimiter } from "./rate-limiter.js";
import { TlsCertificates } from "./tls-credentials.js";
import { TokenAuthenticator } from "./token-authenticator.js";

/** The security links of the chain, in the order they run. */
export interface SecurityLinks {
  readonly authentication?: Interceptor;
  readonly authorization?: Interceptor;
  readonly rateLimit?: Interceptor;
}

/** A server's security, built. */
export interface Security {
  /** The certificates, when TLS is on. */
  readonly tls: TlsCertificates | undefined;
  /** Credentials of the gRPC listener. */
  readonly credentials: ServerCredentials;
  /** Authentication is on (tokens, JWTs or client certificates). */
  readonly authEnabled: boolean;
  /** The authenticator, when authentication is on; HTTP endpoints use it with the `Authorization` header. */
  readonly authenticator: Authenticator | undefined;
  readonly authorizer: Authorizer;
  /** The links for the interceptor chain. */
  readonly links: SecurityLinks;
  /** The gate of the metrics endpoint: with authentication on, a principal granted `admin: [view]`. */
  readonly scrapeGate: ScrapeGate | undefined;
  /** Reads certificates, tokens, JWKS file and policy again (SIGHUP). */
  reload(): void;
  /** Stops watching files. */
  close(): void;
}

/** What {@link createSecurity} needs besides the configuration. */
export interface SecurityContext {
  readonly logger: Logger;
  /** Publishes server events (audit); the bus's publish. */
  readonly publish: (events: readonly Event[]) => Promise<PublishResult[]>;
  readonly metrics?: BusMetrics;
}

/** The configured default limits. */
export function configuredLimits(config: ServerConfig): Limits {
  return {
    eventsPerSecond: config.limitEventsPerSecond,
    eventsPerMinute: config.limitEventsPerMinute,
    burst: config.limitBurst,
    bytesPerSecond: config.limitBytesPerSecond,
    subscriptions: config.limitSubscriptions,
    groups: config.limitGroups,
  };
}

/** Whether the configuration turns authentication on (tokens, JWTs or client certificates). */
export function authConfigured(config: ServerConfig): boolean {
  return config.tokenFile !== "" || config.jwksUrl !== "" || config.jwksFile !== "" || config.tlsClientCa !== "";
}

/** The chain of the authenticators the configuration turns on (undefined for none); their reloads go to `reloaders`. */
function createAuthenticator(config: ServerConfig, logger: Logger, reloaders: (() => void)[]): Authenticator | undefined {
  const watchIntervalMs = config.securityReloadMs;
  const authenticators: Authenticator[] = [];
  if (config.tokenFile !== "") {
    const tokens = new TokenAuthenticator({ path: config.tokenFile, watchIntervalMs, logger });
    authenticators.push(tokens);
    reloaders.push(() => tokens.reload());
  }
  if (config.jwksUrl !== "" || config.jwksFile !== "") {
    const jwt = new JwtAuthenticator({
      ...(config.jwksUrl !== "" ? { jwksUrl: config.jwksUrl } : { jwksFile: config.jwksFile }),
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      clockSkewMs: config.jwtClockSkewMs,
      principalClaim: config.jwtPrincipalClaim,
      rolesClaim: config.jwtRolesClaim,
      refreshMinMs: config.jwksRefreshMinMs,
      cacheMaxAgeMs: config.jwksMaxAgeMs,
      watchIntervalMs,
      logger,
    });
    authenticators.push(jwt);
    reloaders.push(() => jwt.reload());
  }
  if (config.tlsClientCa !== "") authenticators.push(new CertificateAuthenticator());
  return authenticators.length === 0 ? undefined : chainAuthenticators(authenticators);
}

/** The gate of `/metrics` with authentication on: a principal with bus.view may scrape; refusals are audited. */
function metricsScrapeGate(authenticator: Authenticator, authorizer: Authorizer, audit: AuditLog): ScrapeGate {
  return async (request) => {
    const result = await authenticateHttp(authenticator, request);
    const peer = `${request.socket.remoteAddress ?? ""}:${request.socket.remotePort ?? ""}`;
    if ("refused" in result) {
      audit.record({ principal: "anonymous", via: "", action: "authenticate", resource: "/metrics", outcome: "unauthenticated", method: "GET /metrics", peer, reason: result.reason });
      return 401;
    }
    if (authorizer.accessOf(result).allows(Permission.busView, "")) return 200;
    audit.record({ principal: result.id, via: result.via, action: Permission.busView, resource: "/metrics", outcome: "denied", method: "GET /metrics", peer });
    return 403;
  };
}

/** Builds the security of a server; throws a RangeError for a contradictory or unusable configuration. */
export function createSecurity(config: ServerConfig, context: SecurityContext): Security {
  const { logger } = context;
  const watchIntervalMs = config.securityReloadMs;
  if ((config.tlsCert === "") !== (config.tlsKey === "")) throw new RangeError("TLS needs both --tls-cert and --tls-key");
  if (config.tlsClientCa !== "" && config.tlsCert === "") throw new RangeError("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key");
  if (config.jwksUrl !== "" && config.jwksFile !== "") throw new RangeError("give --jwks-url or --jwks-file, not both");

  const closers: (() => void)[] = [];
  const reloaders: (() => void)[] = [];
  try {
    const tls =
      config.tlsCert === ""
        ? undefined
        : new TlsCertificates({ cert: config.tlsCert, key: config.tlsKey, ...(config.tlsClientCa !== "" ? { clientCa: config.tlsClientCa } : {}) }, { logger, watchIntervalMs });
    if (tls !== undefined) {
      closers.push(() => tls.close());
      reloaders.push(() => tls.reload());
    }

    const authenticator = createAuthenticator(config, logger, reloaders);
    if (authenticator !== undefined) closers.push(() => authenticator.close?.());

    const policyFile = config.policy === "" ? undefined : new PolicyFile({ path: config.policy, watchIntervalMs, logger });
    if (policyFile !== undefined) {
      closers.push(() => policyFile.close());
      reloaders.push(() => policyFile.reload());
    }
    const authorizer = new Authorizer(policyFile);
    const audit = new AuditLog({ logger, publish: context.publish });

    const defaults = configuredLimits(config);
    const limitsOf = (principalId: string | undefined): Limits => {
      const policy = authorizer.policy;
      return principalId === undefined ? { ...defaults, ...policy.document.limits.default } : policy.limitsOf(principalId, defaults);
    };
    const policyLimits = (): boolean =>
      Object.keys(authorizer.policy.document.limits.default).length > 0 || Object.keys(authorizer.policy.document.limits.principals).length > 0;
    const limiter = new RateLimiter({ onThrottled: (label, limit) => context.metrics?.recordThrottled(label, limit) });

    let links: SecurityLinks = {};
    if (authenticator !== undefined) {
      if (policyFile === undefined) logger.warn("authentication is on but no --policy is given: every call except health and reflection is refused");
      const authorization = authorizationInterceptor({ authorizer, audit, logger });
      closers.push(() => authorization.close());
      links = { authentication: authenticationInterceptor({ authenticator, audit, logger }), authorization };
    } else if (policyFile !== undefined) {
      logger.warn("--policy is given but no authentication (--token-file, --jwks-url/--jwks-file, --tls-client-ca): its grants do not apply; its default limits apply per connection");
    }
    // Limits can come with a policy reload, so the link is there whenever a policy is.
    if (hasLimits(defaults) || policyFile !== undefined || policyLimits()) links = { ...links, rateLimit: rateLimitInterceptor({ limiter, limitsOf }) };

    const scrapeGate = authenticator === undefined ? undefined : metricsScrapeGate(authenticator, authorizer, audit);

    return {
      tls,
      scrapeGate,
      credentials: tls?.serverCredentials() ?? ServerCredentials.createInsecure(),
      authEnabled: authenticator !== undefined,
      authenticator,
      authorizer,
      links,
      reload() {
        for (const reload of reloaders) reload();
      },
      close() {
        for (const close of closers) close();
      },
    };
  } catch (error) {
    for (const close of closers) close();
    throw error;
  }
}
