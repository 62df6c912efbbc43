/**
 * The security layer's decisions without a server: pattern coverage, policy
 * parsing and grants (groups, schemas, admin, source pinning), hashed
 * tokens, token buckets and the limiter's RetryInfo/QuotaFailure, and the
 * bind guard.
 */
import { describe, expect, it } from "vitest";
import { Code, type ProtobusError } from "@protobus/sdk";
import { patternCovers } from "@protobus/sdk/internal";
import {
  CompiledPolicy,
  Permission,
  RateLimiter,
  TokenBucket,
  TokenTable,
  UNLIMITED,
  checkAccess,
  checkBind,
  createLogger,
  createToken,
  isLoopbackHost,
  parsePolicy,
  readTokenFile,
  revokeTokens,
} from "@protobus/server";
import { join } from "node:path";
import { statSync } from "node:fs";
import { tempDir } from "../support/test-server.js";

const silent = createLogger({ level: "silent", format: "text" });

describe("patternCovers", () => {
  const table: [string, string, boolean][] = [
    ["agent.task.*", "agent.task.created", true],
    ["agent.task.*", "agent.task.*", true],
    ["agent.task.*", "agent.>", false],
    ["agent.task.*", "agent.*.created", false],
    ["agent.task.*", "agent.task.step.done", false],
    ["agent.>", "agent.task.*", true],
    ["agent.>", "agent.>", true],
    ["agent.>", "agent", false],
    [">", "billing.invoice.created", true],
    ["*.task.created", "agent.task.created", true],
    ["*.task.created", "*.task.created", true],
    ["agent.*.created", "*.task.created", false],
    ["billing.invoice.created", "billing.invoice.created", true],
    ["billing.invoice.created", "billing.invoice.*", false],
  ];
  it.each(table)("%s covers %s: %s", (grant, pattern, expected) => {
    expect(patternCovers(grant, pattern)).toBe(expected);
  });
});

const POLICY = `
grants:
  - principals: [planner]
    publish: [agent.task.*]
    subscribe: [agent.task.*]
    sources: ["agents/{principal}"]
    groups:
      "planner-*": [join, settings]
      "planner-work": [dead-letters]
    schemas:
      agent.task.>: [write]
  - roles: [ops]
    admin: [dead-letters, view]
  - principals: ["*"]
    subscribe: [public.>]
limits:
  default: { events-per-second: 100 }
  principals:
    planner: { events-per-second: 5, burst: 10 }
`;

describe("policy", () => {
  const policy = new CompiledPolicy(parsePolicy(POLICY, "policy.yaml"));
  const planner = policy.accessOf({ id: "planner", roles: [], via: "token" });
  const ops = policy.accessOf({ id: "olga", roles: ["ops"], via: "jwt" });

  it("grants only what is written, to whom it is written", () => {
    expect(planner.allows(Permission.subscribe, "agent.task.*")).toBe(true);
    expect(planner.allows(Permission.subscribe, "agent.>")).toBe(false);
    expect(planner.allows(Permission.publish, "agent.task.created")).toBe(true);
    expect(planner.allows(Permission.publish, "billing.invoice.created")).toBe(false);
    expect(planner.allows(Permission.subscribe, "public.news.posted")).toBe(true);
    expect(ops.allows(Permission.subscribe, "agent.task.*")).toBe(false);
    expect(ops.allows(Permission.subscribe, "public.>")).toBe(true);
  });

  it("groups by glob, schemas by pattern, admin rights on everything", () => {
    expect(planner.allows(Permission.groupJoin, "planner-work")).toBe(true);
    expect(planner.allows(Permission.groupSettings, "planner-work")).toBe(true);
    expect(planner.allows(Permission.groupDelete, "planner-work")).toBe(false);
    expect(planner.allows(Permission.groupDeadLetters, "planner-work")).toBe(true);
    expect(planner.allows(Permission.groupDeadLetters, "planner-other")).toBe(false);
    expect(planner.allows(Permission.groupJoin, "billing")).toBe(false);
    expect(planner.allows(Permission.schemaWrite, "agent.task.created")).toBe(true);
    expect(planner.allows(Permission.schemaWrite, "_base")).toBe(false);
    expect(planner.allows(Permission.schemaWrite, "agent.>")).toBe(false);
    expect(ops.allows(Permission.groupDeadLetters, "billing")).toBe(true);
    expect(ops.allows(Permission.busView, "")).toBe(true);
    expect(ops.allows(Permission.schemaWrite, "_base")).toBe(false);
  });

  it("pins sources to the granted prefixes", () => {
    expect(planner.allowsSource("agent.task.created", "agents/planner/1")).toBe(true);
    expect(planner.allowsSource("agent.task.created", "agents/coder")).toEqual(["agents/planner"]);
    const refusal = checkAccess(planner, [{ permission: Permission.publish, resource: "agent.task.created", source: "agents/coder" }]);
    expect(refusal?.code).toBe(Code.PERMISSION_DENIED);
    expect(refusal?.message).toContain("publish.source");
  });

  it("names the permission and the resource when it refuses", () => {
    const refusal = checkAccess(planner, [{ permission: Permission.subscribe, resource: "agent.>" }]) as ProtobusError;
    expect(refusal.code).toBe(Code.PERMISSION_DENIED);
    expect(refusal.rawMessage).toBe("principal 'planner' lacks permission 'subscribe' on 'agent.>'");
    const info = refusal.details.find((d) => d.type === "ErrorInfo");
    expect(info?.type === "ErrorInfo" && info.value.metadata).toEqual({ permission: "subscribe", resource: "agent.>", principal: "planner" });
  });

  it("takes limits per principal over the default over the configured ones", () => {
    expect(policy.limitsOf("planner", { ...UNLIMITED, subscriptions: 3 })).toMatchObject({ eventsPerSecond: 5, burst: 10, subscriptions: 3 });
    expect(policy.limitsOf("other", UNLIMITED).eventsPerSecond).toBe(100);
  });

  it("refuses a malformed policy, saying where", () => {
    expect(() => parsePolicy("grants:\n  - principals: [a]\n    publish: ['agent..x']\n", "p.yaml")).toThrow(/p.yaml: grants\[0\].publish\[0\]/);
    expect(() => parsePolicy("grants:\n  - principals: [a]\n    admin: [root]\n", "p.yaml")).toThrow(/unknown right 'root'/);
    expect(() => parsePolicy("grants:\n  - publish: [a.b]\n", "p.yaml")).toThrow(/names no principals and no roles/);
    expect(() => parsePolicy("grant: []\n", "p.yaml")).toThrow(/unknown key 'grant'/);
    expect(() => parsePolicy("limits:\n  default: { events-per-hour: 3 }\n", "p.yaml")).toThrow(/unknown limit 'events-per-hour'/);
  });
});

describe("token file", () => {
  it("stores only hashes, verifies, expires and revokes", () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "tokens.yaml");
      const { token, record } = createToken(path, { principal: "planner", roles: ["agents"] });
      const short = createToken(path, { principal: "temp", ttlMs: 1000 });
      expect(token).toMatch(/^pbt_/);
      expect(statSync(path).mode & 0o077).toBe(0);
      const records = readTokenFile(path);
      expect(records).toHaveLength(2);
      expect(JSON.stringify(records)).not.toContain(token.slice(17));
      const table = new TokenTable(records);
      expect(table.verify(token)).toEqual({ id: "planner", roles: ["agents"], via: "token" });
      expect(table.verify(`${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`)).toHaveProperty("rejected");
      expect(table.verify("pbt_nope")).toHaveProperty("rejected");
      expect(table.verify(short.token, Date.now() + 2000)).toHaveProperty("rejected");
      expect(revokeTokens(path, record.id)).toHaveLength(1);
      expect(new TokenTable(readTokenFile(path)).verify(token)).toHaveProperty("rejected");
    } finally {
      dir.dispose();
    }
  });
});

describe("rate limits", () => {
  it("a token bucket refuses past its burst and tells how long to wait", () => {
    const bucket = new TokenBucket(10, 20, 0);
    expect(bucket.waitMs(20, 0)).toBe(0);
    bucket.take(20, 0);
    expect(bucket.waitMs(1, 0)).toBeCloseTo(100);
    expect(bucket.waitMs(5, 200)).toBeCloseTo(300);
    expect(bucket.waitMs(5, 500)).toBe(0);
  });

  it("answers RESOURCE_EXHAUSTED with RetryInfo and QuotaFailure, per caller", () => {
    let now = 0;
    const throttled: string[] = [];
    const limiter = new RateLimiter({ now: () => now, onThrottled: (label, limit) => throttled.push(`${label}/${limit}`) });
    const a = { key: "principal:a", label: "a", limits: { ...UNLIMITED, eventsPerSecond: 10, burst: 10 } };
    const b = { key: "principal:b", label: "b", limits: { ...UNLIMITED, eventsPerSecond: 10 } };
    expect(limiter.admitPublish(a, 10, 0)).toBeUndefined();
    const refusal = limiter.admitPublish(a, 5, 0);
    expect(refusal?.code).toBe(Code.RESOURCE_EXHAUSTED);
    const retry = refusal?.details.find((d) => d.type === "RetryInfo");
    expect(retry?.type === "RetryInfo" && Number(retry.value.retryDelay?.nanos ?? 0) / 1e6 + Number(retry.value.retryDelay?.seconds ?? 0) * 1000).toBe(500);
    const quota = refusal?.details.find((d) => d.type === "QuotaFailure");
    expect(quota?.type === "QuotaFailure" && quota.value.violations[0]).toMatchObject({ subject: "principal:a", quotaId: "limit-events-per-second", quotaValue: 10n });
    expect(limiter.admitPublish(b, 10, 0)).toBeUndefined();
    now = 500;
    expect(limiter.admitPublish(a, 5, 0)).toBeUndefined();
    expect(throttled).toEqual(["a/events-per-second"]);
  });

  it("counts open subscriptions and groups, and gives slots back", () => {
    const limiter = new RateLimiter();
    const subject = { key: "connection:x", label: "(connection)", limits: { ...UNLIMITED, subscriptions: 2, groups: 1 } };
    const first = limiter.openSubscription(subject, "g1");
    expect(typeof first).toBe("function");
    const second = limiter.openSubscription(subject, "g2");
    expect((second as ProtobusError).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect((second as ProtobusError).details.some((d) => d.type === "RetryInfo")).toBe(false);
    const third = limiter.openSubscription(subject, "g1");
    expect(typeof third).toBe("function");
    expect((limiter.openSubscription(subject, "") as ProtobusError).code).toBe(Code.RESOURCE_EXHAUSTED);
    (first as () => void)();
    (first as () => void)();
    expect(typeof limiter.openSubscription(subject, "")).toBe("function");
  });
});

describe("bind guard", () => {
  it("knows loopback hosts", () => {
    for (const host of ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "example.com"]) expect(isLoopbackHost(host)).toBe(false);
  });

  it("refuses a non-loopback listener without TLS and auth unless --insecure", () => {
    expect(() => checkBind("0.0.0.0", { tls: false, auth: false, insecure: false }, silent)).toThrow(/--insecure/);
    expect(() => checkBind("0.0.0.0", { tls: true, auth: false, insecure: false }, silent)).toThrow(/authentication/);
    expect(() => checkBind("0.0.0.0", { tls: true, auth: true, insecure: false }, silent)).not.toThrow();
    expect(() => checkBind("0.0.0.0", { tls: false, auth: false, insecure: true }, silent)).not.toThrow();
    expect(() => checkBind("127.0.0.1", { tls: false, auth: false, insecure: false }, silent)).not.toThrow();
  });
});
