/**
 * TLS and mutual TLS on real listeners with certificates made by openssl
 * in the test: the SDK, a plain grpc-js client and `buf curl --cacert`
 * connect; a client that does not trust the server, has no certificate or
 * one from another CA is refused at the handshake; the certificate subject
 * is the principal; certificates are replaced without a restart (file
 * watch, and SIGHUP in a `protobus serve` process); /metrics is HTTPS and
 * needs a principal granted admin view.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { Code, createClient, ProtobusError } from "@protobus/sdk";
import { HealthClient } from "@protobus/sdk/proto";
import { createToken, startServer, type ProtobusServer } from "@protobus/server";
import { tlsCredentials } from "../support/auth.js";
import { makeCa, makeCert, makeServerPki, type CertPair } from "../support/certs.js";
import { CLI, REPO_ROOT, spawnServer, tempDir, waitFor } from "../support/test-server.js";
import { freePort } from "../support/free-port.js";

const run = promisify(execFile);

const POLICY = `
grants:
  - principals: [agent-7, planner]
    publish: [agent.task.*]
    subscribe: [agent.task.*]
  - principals: [ops]
    admin: [view]
`;

async function publishCode(address: string, creds: ReturnType<typeof credentials.createInsecure>): Promise<number> {
  const client = createClient({ address, credentials: creds, source: "agent/test", timeoutMs: 5_000, batching: false });
  try {
    await client.publish({ type: "agent.task.created", data: { n: 1 } });
    return 0;
  } catch (error) {
    return ProtobusError.from(error).code;
  } finally {
    await client.close();
  }
}

function healthCode(address: string, creds: ReturnType<typeof credentials.createInsecure>): Promise<number> {
  const health = new HealthClient(address, creds);
  return new Promise((resolve) =>
    health.check({ service: "" }, new Metadata(), { deadline: new Date(Date.now() + 5_000) }, (error: ServiceError | null) => {
      health.close();
      resolve(error?.code ?? 0);
    }),
  );
}

function httpsStatus(url: string, ca: Buffer, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on("error", reject);
  });
}

describe("TLS with token authentication", () => {
  const dir = tempDir();
  let pki: { ca: CertPair; server: CertPair };
  let otherCa: CertPair;
  let server: ProtobusServer;
  let planner: string;
  let ops: string;

  beforeAll(async () => {
    pki = makeServerPki(dir.path);
    otherCa = makeCa(dir.path, "other-ca");
    const tokenFile = join(dir.path, "tokens.yaml");
    planner = createToken(tokenFile, { principal: "planner" }).token;
    ops = createToken(tokenFile, { principal: "ops" }).token;
    writeFileSync(join(dir.path, "policy.yaml"), POLICY);
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      store: "memory",
      logLevel: "silent",
      tlsCert: pki.server.cert,
      tlsKey: pki.server.key,
      tokenFile,
      policy: join(dir.path, "policy.yaml"),
      metricsPort: await freePort(),
      shutdownGraceMs: 1000,
    });
  });

  afterAll(async () => {
    await server.shutdown();
    dir.dispose();
  });

  it("the SDK publishes over TLS with a token", async () => {
    expect(await publishCode(server.address, tlsCredentials({ ca: pki.ca.certPem, token: planner }))).toBe(0);
  });

  it("the SDK takes tls, token and an https:// address; the CLI takes --tls-ca and --token", async () => {
    const client = createClient({ address: `https://${server.address}`, tls: { ca: pki.ca.certPem }, token: planner, source: "agent/sdk", batching: false });
    try {
      const result = await client.publish({ type: "agent.task.created", data: { via: "sdk" } });
      expect(result.sequence).toBeGreaterThan(0n);
    } finally {
      await client.close();
    }
    const published = await run(process.execPath, [CLI, "publish", "--type", "agent.task.created", "--data", '{"via":"cli"}', "--address", `https://${server.address}`, "--tls-ca", pki.ca.cert], {
      env: { ...process.env, PROTOBUS_TOKEN: planner },
    });
    expect(published.stdout).toMatch(/^published agent\.task\.created id=/);
    const refused = await run(process.execPath, [CLI, "query", "agent.task.*", "--address", `https://${server.address}`, "--tls-ca", pki.ca.cert]).then(
      () => "",
      (error: { stderr: string }) => error.stderr,
    );
    expect(refused).toContain("[UNAUTHENTICATED] missing or invalid credentials");
  });

  it("refuses a plaintext client and one that trusts another CA", async () => {
    expect(await healthCode(server.address, credentials.createInsecure())).toBe(Code.UNAVAILABLE);
    expect(await healthCode(server.address, credentials.createSsl(otherCa.certPem))).toBe(Code.UNAVAILABLE);
    expect(await healthCode(server.address, credentials.createSsl(pki.ca.certPem))).toBe(0);
  });

  it("buf curl reaches it with --cacert, through reflection", async () => {
    const buf = join(REPO_ROOT, "node_modules/.bin/buf");
    const base = `https://${server.address}`;
    const health = await run(buf, ["curl", "--cacert", pki.ca.cert, "--protocol", "grpc", `${base}/grpc.health.v1.Health/Check`], { timeout: 20_000 });
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
    const info = await run(buf, ["curl", "--cacert", pki.ca.cert, "--protocol", "grpc", "-H", `Authorization: Bearer ${planner}`, `${base}/protobus.v1.EventBus/GetBusInfo`], {
      timeout: 20_000,
    });
    expect(JSON.parse(info.stdout)).toHaveProperty("version");
    const refused = await run(buf, ["curl", "--cacert", pki.ca.cert, "--protocol", "grpc", `${base}/protobus.v1.EventBus/GetBusInfo`], { timeout: 20_000 }).then(
      () => "",
      (error: { stderr: string }) => error.stderr,
    );
    expect(refused).toMatch(/unauthenticated/i);
  });

  it("serves /metrics over HTTPS to a principal with admin view only", async () => {
    const url = `https://127.0.0.1:${server.metricsPort}/metrics`;
    expect(await httpsStatus(url, pki.ca.certPem)).toBe(401);
    expect(await httpsStatus(url, pki.ca.certPem, planner)).toBe(403);
    expect(await httpsStatus(url, pki.ca.certPem, ops)).toBe(200);
  });
});

describe("mutual TLS", () => {
  const dir = tempDir();
  let pki: { ca: CertPair; server: CertPair };
  let agent: CertPair;
  let stranger: CertPair;
  let outsider: CertPair;
  let server: ProtobusServer;

  beforeAll(async () => {
    pki = makeServerPki(dir.path);
    agent = makeCert(dir.path, pki.ca, "agent-7", { subject: "/CN=agent-7/OU=agents" });
    stranger = makeCert(dir.path, pki.ca, "stranger", { subject: "/CN=stranger" });
    const otherCa = makeCa(dir.path, "other-ca");
    outsider = makeCert(dir.path, otherCa, "outsider", { subject: "/CN=agent-7" });
    writeFileSync(join(dir.path, "policy.yaml"), POLICY);
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      store: "memory",
      logLevel: "silent",
      tlsCert: pki.server.cert,
      tlsKey: pki.server.key,
      tlsClientCa: pki.ca.cert,
      policy: join(dir.path, "policy.yaml"),
      shutdownGraceMs: 1000,
    });
  });

  afterAll(async () => {
    await server.shutdown();
    dir.dispose();
  });

  it("takes the certificate subject as the principal", async () => {
    expect(await publishCode(server.address, tlsCredentials({ ca: pki.ca.certPem, cert: agent.certPem, key: agent.keyPem }))).toBe(0);
    expect(await publishCode(server.address, tlsCredentials({ ca: pki.ca.certPem, cert: stranger.certPem, key: stranger.keyPem }))).toBe(Code.PERMISSION_DENIED);
  });

  it("refuses at the handshake a client without a certificate or with one from another CA", async () => {
    expect(await healthCode(server.address, credentials.createSsl(pki.ca.certPem))).toBe(Code.UNAVAILABLE);
    expect(await healthCode(server.address, credentials.createSsl(pki.ca.certPem, outsider.keyPem, outsider.certPem))).toBe(Code.UNAVAILABLE);
    expect(await healthCode(server.address, credentials.createSsl(pki.ca.certPem, agent.keyPem, agent.certPem))).toBe(0);
  });
});

describe("certificate reload without restart", () => {
  it("follows the files when they change", async () => {
    const dir = tempDir();
    const first = makeServerPki(dir.path, "first-ca");
    const second = makeServerPki(dir.path, "second-ca");
    const cert = join(dir.path, "live.crt");
    const key = join(dir.path, "live.key");
    copyFileSync(first.server.cert, cert);
    copyFileSync(first.server.key, key);
    const server = await startServer({ host: "127.0.0.1", port: 0, store: "memory", logLevel: "silent", tlsCert: cert, tlsKey: key, securityReloadMs: 100, shutdownGraceMs: 1000 });
    try {
      expect(await healthCode(server.address, credentials.createSsl(first.ca.certPem))).toBe(0);
      // A half-done swap (new certificate, old key) is refused; the old pair stays in use.
      copyFileSync(second.server.cert, cert);
      await new Promise((r) => setTimeout(r, 400));
      expect(await healthCode(server.address, credentials.createSsl(first.ca.certPem))).toBe(0);
      copyFileSync(second.server.key, key);
      await waitFor(async () => (await healthCode(server.address, credentials.createSsl(second.ca.certPem))) === 0, 5_000, "the new certificate");
      expect(await healthCode(server.address, credentials.createSsl(first.ca.certPem))).toBe(Code.UNAVAILABLE);
    } finally {
      await server.shutdown();
      dir.dispose();
    }
  });

  it("reloads on SIGHUP in a protobus serve process", async () => {
    const dir = tempDir();
    const first = makeServerPki(dir.path, "first-ca");
    const second = makeServerPki(dir.path, "second-ca");
    const cert = join(dir.path, "live.crt");
    const key = join(dir.path, "live.key");
    copyFileSync(first.server.cert, cert);
    copyFileSync(first.server.key, key);
    const child = await spawnServer(["--store", "memory", "--tls-cert", cert, "--tls-key", key, "--security-reload-interval", "0"]);
    try {
      expect(await healthCode(child.address, credentials.createSsl(first.ca.certPem))).toBe(0);
      copyFileSync(second.server.cert, cert);
      copyFileSync(second.server.key, key);
      // No watching: nothing changes until the signal.
      expect(await healthCode(child.address, credentials.createSsl(first.ca.certPem))).toBe(0);
      child.process.kill("SIGHUP");
      await waitFor(async () => (await healthCode(child.address, credentials.createSsl(second.ca.certPem))) === 0, 5_000, "the new certificate");
      expect(child.output()).toContain("TLS certificates reloaded");
      expect(child.process.exitCode).toBeNull();
    } finally {
      await child.stop();
      dir.dispose();
    }
  });
});

describe("safe default", () => {
  it("refuses a non-loopback listener without TLS and authentication unless --insecure", async () => {
    const refused = await spawnServer(["--store", "memory", "--host", "0.0.0.0"]).then(
      () => "started",
      (error: Error) => error.message,
    );
    expect(refused).toContain("refusing to serve the gRPC listener on 0.0.0.0 without TLS");
  });
});
