/**
 * JWT authentication against a JWKS served over HTTP by the test: keys
 * rotate (a token with a new key id makes the set be fetched again; a
 * retired key stops working once the cached set expires), a JWKS file is
 * followed when it changes, the clock skew allowance holds, roles come from
 * the token. Bearer tokens made with `protobus token create` work at once
 * and stop working when revoked, without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { Code } from "@protobus/sdk";
import { EventBusClient, QueryEventsRequest } from "@protobus/sdk/proto";
import { createToken, startServer, type ProtobusServer } from "@protobus/server";
import { makeKey, signJwt, startJwks, type JwksServer, type TestKey } from "../support/auth.js";
import { rawUnary, type RawClient } from "../support/raw-calls.js";
import { CLI, tempDir, waitFor } from "../support/test-server.js";

const run = promisify(execFile);

const POLICY = `
grants:
  - roles: [readers]
    subscribe: [agent.>]
  - principals: [cli-user]
    subscribe: [agent.>]
`;

const query = QueryEventsRequest.fromPartial({ patterns: ["agent.>"] });

describe("JWT from a JWKS URL", () => {
  const dir = tempDir();
  let jwks: JwksServer;
  let k1: TestKey;
  let k2: TestKey;
  let server: ProtobusServer;
  let bus: RawClient;

  beforeAll(async () => {
    k1 = await makeKey("k1");
    k2 = await makeKey("k2");
    jwks = await startJwks([k1]);
    writeFileSync(join(dir.path, "policy.yaml"), POLICY);
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      store: "memory",
      logLevel: "silent",
      jwksUrl: jwks.url,
      jwtIssuer: "https://issuer.test",
      jwtAudience: "protobus",
      jwtClockSkewMs: 30_000,
      jwksRefreshMinMs: 100,
      jwksMaxAgeMs: 1_000,
      policy: join(dir.path, "policy.yaml"),
      shutdownGraceMs: 1000,
    });
    bus = new EventBusClient(server.address, credentials.createInsecure()) as unknown as RawClient;
  });

  afterAll(async () => {
    bus.close();
    await server.shutdown();
    await jwks.close();
    dir.dispose();
  });

  const token = (key: TestKey, claims: { sub?: string; roles?: string[]; expiresIn?: number } = {}): Promise<string> =>
    signJwt(key, { sub: claims.sub ?? "reader-1", roles: claims.roles ?? ["readers"], iss: "https://issuer.test", aud: "protobus", ...(claims.expiresIn !== undefined ? { expiresIn: claims.expiresIn } : {}) });

  it("takes the principal and roles from the token", async () => {
    expect((await rawUnary(bus, "queryEvents", query, await token(k1))).code).toBe(0);
    const noRole = await rawUnary(bus, "queryEvents", query, await token(k1, { roles: [] }));
    expect(noRole.details).toBe("principal 'reader-1' lacks permission 'subscribe' on 'agent.>'");
  });

  it("allows the clock skew and no more", async () => {
    expect((await rawUnary(bus, "queryEvents", query, await token(k1, { expiresIn: -10 }))).code).toBe(0);
    expect((await rawUnary(bus, "queryEvents", query, await token(k1, { expiresIn: -60 }))).code).toBe(Code.UNAUTHENTICATED);
  });

  it("follows key rotation", async () => {
    jwks.publish([k1, k2]);
    // A new key id: the set is fetched again at once.
    await waitFor(async () => (await rawUnary(bus, "queryEvents", query, await token(k2))).code === 0, 3_000, "the new key");
    jwks.publish([k2]);
    // The retired key stops working once the cached set is older than its max age.
    await waitFor(async () => (await rawUnary(bus, "queryEvents", query, await token(k1))).code === Code.UNAUTHENTICATED, 5_000, "the old key to retire");
    expect((await rawUnary(bus, "queryEvents", query, await token(k2))).code).toBe(0);
  });
});

describe("JWT from a JWKS file", () => {
  it("reads the file again when it changes", async () => {
    const dir = tempDir();
    const k1 = await makeKey("file-1");
    const k2 = await makeKey("file-2");
    const file = join(dir.path, "jwks.json");
    writeFileSync(file, JSON.stringify({ keys: [k1.jwk] }));
    writeFileSync(join(dir.path, "policy.yaml"), POLICY);
    const server = await startServer({ host: "127.0.0.1", port: 0, store: "memory", logLevel: "silent", jwksFile: file, policy: join(dir.path, "policy.yaml"), securityReloadMs: 100, shutdownGraceMs: 1000 });
    const bus = new EventBusClient(server.address, credentials.createInsecure()) as unknown as RawClient;
    try {
      const t1 = await signJwt(k1, { sub: "reader", roles: ["readers"] });
      const t2 = await signJwt(k2, { sub: "reader", roles: ["readers"] });
      expect((await rawUnary(bus, "queryEvents", query, t1)).code).toBe(0);
      expect((await rawUnary(bus, "queryEvents", query, t2)).code).toBe(Code.UNAUTHENTICATED);
      writeFileSync(file, JSON.stringify({ keys: [k2.jwk] }));
      await waitFor(async () => (await rawUnary(bus, "queryEvents", query, t2)).code === 0, 3_000, "the new key file");
      expect((await rawUnary(bus, "queryEvents", query, t1)).code).toBe(Code.UNAUTHENTICATED);
    } finally {
      bus.close();
      await server.shutdown();
      dir.dispose();
    }
  });
});

describe("protobus token create|list|revoke", () => {
  it("gives tokens ids that cannot read as a command-line option", () => {
    const dir = tempDir();
    try {
      const tokenFile = join(dir.path, "tokens.yaml");
      // One random id in 64 would start with "-" (base64url): 300 tokens all but guarantee one would.
      const ids = Array.from({ length: 300 }, () => createToken(tokenFile, { principal: "many" }).record.id);
      for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{11}$/);
      expect(new Set(ids).size).toBe(300);
    } finally {
      dir.dispose();
    }
  });

  it("makes tokens that work at once and stop working when revoked", async () => {
    const dir = tempDir();
    const tokenFile = join(dir.path, "tokens.yaml");
    writeFileSync(join(dir.path, "policy.yaml"), POLICY);
    const created = await run(process.execPath, [CLI, "token", "create", "cli-user", "--token-file", tokenFile, "--description", "test"]);
    const token = created.stdout.trim();
    expect(token).toMatch(/^pbt_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain("shown only now");
    const server = await startServer({ host: "127.0.0.1", port: 0, store: "memory", logLevel: "silent", tokenFile, policy: join(dir.path, "policy.yaml"), securityReloadMs: 100, shutdownGraceMs: 1000 });
    const bus = new EventBusClient(server.address, credentials.createInsecure()) as unknown as RawClient;
    try {
      expect((await rawUnary(bus, "queryEvents", query, token)).code).toBe(0);
      const listed = await run(process.execPath, [CLI, "token", "list", "--token-file", tokenFile, "--json"]);
      const record = JSON.parse(listed.stdout.trim()) as Record<string, unknown>;
      expect(record).toMatchObject({ principal: "cli-user", description: "test" });
      expect(record).not.toHaveProperty("hash");
      expect(listed.stdout).not.toContain(token.slice(17));
      const second = (await run(process.execPath, [CLI, "token", "create", "cli-user", "--token-file", tokenFile])).stdout.trim();
      await waitFor(async () => (await rawUnary(bus, "queryEvents", query, second)).code === 0, 3_000, "the second token");
      await run(process.execPath, [CLI, "token", "revoke", String(record.id), "--token-file", tokenFile]);
      await waitFor(async () => (await rawUnary(bus, "queryEvents", query, token)).code === Code.UNAUTHENTICATED, 3_000, "the revocation");
      expect((await rawUnary(bus, "queryEvents", query, second)).code).toBe(0);
      const unknown = await run(process.execPath, [CLI, "token", "revoke", "nobody", "--token-file", tokenFile]).then(
        () => "",
        (error: { stderr: string }) => error.stderr,
      );
      expect(unknown).toContain("no token has id or principal 'nobody'");
    } finally {
      bus.close();
      await server.shutdown();
      dir.dispose();
    }
  });
});
