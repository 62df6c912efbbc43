/**
 * The SDK's call layer against real servers: headers and a bearer token on
 * every call (unary and streams) from one interceptor chain, retries of
 * reads that honour the server's google.rpc.RetryInfo (and of a unary
 * publish only after a refusal with RetryInfo, which applied nothing),
 * and connections over TLS and mutual TLS with a throwaway CA made by
 * openssl in the test (test/support/certs.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { Code, ProtobusError, createClient, type ErrorDetail } from "@protobus/sdk";
import { EventBusService, type BusInfo } from "@protobus/sdk/proto";
import { callContext, createLogger, interceptorChain, type CallContext, type Interceptor } from "@protobus/server";
import { makeCert, makeServerPki } from "../support/certs.js";
import { startTestServer, tempDir, type TestServer } from "../support/test-server.js";

function retryInfo(ms: number): ErrorDetail {
  return { type: "RetryInfo", value: { retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 } } };
}

describe("client interceptors", () => {
  const seen: CallContext[] = [];
  // Per method: how many more calls to refuse, and with what.
  const refusals = new Map<string, { remaining: number; error: () => ProtobusError }>();
  const attempts = new Map<string, number[]>();
  let t: TestServer;

  beforeAll(async () => {
    const recorder: Interceptor = {
      name: "authentication",
      onCall(ctx) {
        seen.push(ctx);
        attempts.set(ctx.method, [...(attempts.get(ctx.method) ?? []), Date.now()]);
        const refusal = refusals.get(ctx.method);
        if (refusal !== undefined && refusal.remaining > 0) {
          refusal.remaining -= 1;
          throw refusal.error();
        }
      },
    };
    t = await startTestServer({ store: "memory", interceptors: { authentication: recorder } });
  });
  afterAll(() => t.close());

  const header = (ctx: CallContext | undefined, key: string): unknown => ctx?.metadata.get(key)[0];

  it("sends the configured headers and bearer token with unary calls and streams", async () => {
    let tokens = 0;
    const client = createClient({
      address: t.address,
      metadata: { "x-tenant": "acme" },
      token: async () => `token-${++tokens}`,
    });
    try {
      seen.length = 0;
      await client.info();
      await client.publish({ type: "headers.test", data: { n: 1 } });
      const subscription = client.subscribe("headers.>");
      await subscription.opened();
      subscription.close();
      const byMethod = (method: string): CallContext | undefined => seen.find((c) => c.method === method);
      for (const method of ["GetBusInfo", "PublishStream", "Subscribe"]) {
        expect(header(byMethod(method), "x-tenant"), method).toBe("acme");
        expect(String(header(byMethod(method), "authorization")), method).toMatch(/^Bearer token-\d+$/);
      }
      expect(header(byMethod("GetBusInfo"), "authorization")).toBe("Bearer token-1");
      expect(tokens).toBeGreaterThanOrEqual(3);
    } finally {
      await client.close();
    }
  });

  it("propagates the caller's trace context in the metadata, read by the server into the call context", async () => {
    const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
    provider.register();
    const client = createClient({ address: t.address });
    try {
      seen.length = 0;
      const tracer = trace.getTracer("client-interceptors-test");
      const parent = await tracer.startActiveSpan("caller", async (span) => {
        await client.info();
        span.end();
        return span.spanContext();
      });
      const ctx = seen.find((c) => c.method === "GetBusInfo");
      expect(header(ctx, "traceparent")).toBe(`00-${parent.traceId}-${parent.spanId}-01`);
      const propagated = ctx?.traceContext === undefined ? undefined : trace.getSpanContext(ctx.traceContext);
      expect(propagated?.traceId).toBe(parent.traceId);
      expect(propagated?.spanId).toBe(parent.spanId);
    } finally {
      await client.close();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    }
  });

  it("fails a call with UNAUTHENTICATED, without sending it, when the token provider fails", async () => {
    const client = createClient({ address: t.address, batching: false, token: () => Promise.reject(new Error("vault sealed")) });
    try {
      seen.length = 0;
      const error = await client.info().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProtobusError);
      expect((error as ProtobusError).code).toBe(Code.UNAUTHENTICATED);
      expect((error as ProtobusError).message).toContain("vault sealed");
      expect(seen).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it("retries a read after the delay the server's RetryInfo names", async () => {
    const client = createClient({ address: t.address });
    try {
      attempts.delete("GetBusInfo");
      refusals.set("GetBusInfo", { remaining: 1, error: () => new ProtobusError(Code.RESOURCE_EXHAUSTED, "slow down", [retryInfo(300)]) });
      const info = await client.info();
      expect(info.store).toBe("memory");
      const times = attempts.get("GetBusInfo") ?? [];
      expect(times).toHaveLength(2);
      expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(280);
    } finally {
      await client.close();
    }
  });

  it("retries UNAVAILABLE with backoff up to maxAttempts, then fails with the server's status", async () => {
    const client = createClient({ address: t.address, retry: { maxAttempts: 3, initialBackoffMs: 20 } });
    try {
      attempts.delete("ListGroups");
      refusals.set("ListGroups", { remaining: 5, error: () => new ProtobusError(Code.UNAVAILABLE, "try elsewhere") });
      const error = await client.listGroups().catch((e: unknown) => e);
      expect((error as ProtobusError).code).toBe(Code.UNAVAILABLE);
      expect((error as ProtobusError).rawMessage).toBe("try elsewhere");
      expect(attempts.get("ListGroups")).toHaveLength(3);
      refusals.delete("ListGroups");
    } finally {
      await client.close();
    }
  });

  it("sends a unary publish again after a RESOURCE_EXHAUSTED with RetryInfo (refused whole), and after nothing else", async () => {
    const client = createClient({ address: t.address, batching: false });
    try {
      attempts.delete("Publish");
      refusals.set("Publish", { remaining: 2, error: () => new ProtobusError(Code.RESOURCE_EXHAUSTED, "busy", [retryInfo(100)]) });
      const [result] = await client.publish([{ type: "retry.refused", data: { n: 1 } }]);
      const times = attempts.get("Publish") ?? [];
      expect(times).toHaveLength(3);
      expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(90);
      // Stored once, by the third attempt.
      const stored = await client.query({ patterns: ["retry.refused"] });
      expect(stored.events.map((e) => e.id)).toEqual([result?.id]);
      // Without RetryInfo the server did not say it applied nothing: no second attempt.
      attempts.delete("Publish");
      refusals.set("Publish", { remaining: 1, error: () => new ProtobusError(Code.RESOURCE_EXHAUSTED, "quota") });
      expect(((await client.publish([{ type: "retry.refused", data: {} }]).catch((e: unknown) => e)) as ProtobusError).code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(attempts.get("Publish")).toHaveLength(1);
    } finally {
      refusals.delete("Publish");
      await client.close();
    }
  });

  it("does not retry RESOURCE_EXHAUSTED without RetryInfo, a write, or past the deadline", async () => {
    const client = createClient({ address: t.address, batching: false, timeoutMs: 500 });
    try {
      attempts.clear();
      refusals.set("GetGroup", { remaining: 1, error: () => new ProtobusError(Code.RESOURCE_EXHAUSTED, "quota") });
      expect(((await client.getGroup("g").catch((e: unknown) => e)) as ProtobusError).code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(attempts.get("GetGroup")).toHaveLength(1);

      refusals.set("Publish", { remaining: 1, error: () => new ProtobusError(Code.UNAVAILABLE, "busy", [retryInfo(10)]) });
      expect(((await client.publish({ type: "retry.write", data: {} }).catch((e: unknown) => e)) as ProtobusError).code).toBe(Code.UNAVAILABLE);
      expect(attempts.get("Publish")).toHaveLength(1);

      refusals.set("GetFlow", { remaining: 1, error: () => new ProtobusError(Code.UNAVAILABLE, "later", [retryInfo(5_000)]) });
      const started = Date.now();
      expect(((await client.getFlow("c").catch((e: unknown) => e)) as ProtobusError).code).toBe(Code.UNAVAILABLE);
      expect(Date.now() - started).toBeLessThan(400);
      expect(attempts.get("GetFlow")).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});

describe("TLS connections", () => {
  const dir = tempDir("protobus-tls-");
  let certs: { ca: Buffer; clientCert: Buffer; clientKey: Buffer };
  let tlsServer: TestServer;
  let server: grpc.Server;
  let mtlsPort: number;
  const peers: Array<string | undefined> = [];

  beforeAll(async () => {
    const pki = makeServerPki(dir.path);
    const client = makeCert(dir.path, pki.ca, "billing", { subject: "/CN=billing-service" });
    certs = { ca: pki.ca.certPem, clientCert: client.certPem, clientKey: client.keyPem };
    tlsServer = await startTestServer({ store: "memory", tlsCert: pki.server.cert, tlsKey: pki.server.key });
    const logger = createLogger({ level: "silent", format: "text" });
    server = new grpc.Server({ interceptors: [interceptorChain([], { logger })] });
    // The bus's GetBusInfo alone, answering with the client certificate's subject.
    server.addService(EventBusService as unknown as grpc.ServiceDefinition, {
      getBusInfo: (call: grpc.ServerUnaryCall<unknown, BusInfo>, callback: grpc.sendUnaryData<BusInfo>) => {
        const cn = callContext(call).peerCertificate?.subject.CN;
        const subject = Array.isArray(cn) ? cn.join(",") : cn;
        peers.push(subject);
        callback(null, { version: subject ?? "anonymous", store: "tls-test", durable: false, headSequence: 0n, maxPayloadBytes: 0 });
      },
    });
    const bind = (requireClientCertificate: boolean): Promise<number> => {
      const keys = [{ cert_chain: pki.server.certPem, private_key: pki.server.keyPem }];
      const credentials = grpc.ServerCredentials.createSsl(certs.ca, keys, requireClientCertificate);
      return new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
      );
    };
    mtlsPort = await bind(true);
  });
  afterAll(async () => {
    server.forceShutdown();
    await tlsServer.close();
    dir.dispose();
  });

  it("publishes to and queries a protobus server over TLS at an https:// address with the given CA", async () => {
    const client = createClient({ address: `https://${tlsServer.address}`, tls: { ca: certs.ca } });
    try {
      const { sequence } = await client.publish({ type: "tls.test.sent", data: { n: 1 } });
      const page = await client.query({ patterns: ["tls.test.*"] });
      expect(page.events.map((e) => e.sequence)).toEqual([sequence]);
    } finally {
      await client.close();
    }
  });

  it("reaches the same server with tls: { ca } and a plain host:port address", async () => {
    const client = createClient({ address: tlsServer.address, tls: { ca: certs.ca } });
    try {
      expect((await client.info()).store).toBe("memory");
    } finally {
      await client.close();
    }
  });

  it("presents a client certificate for mutual TLS, which the chain puts in the call context", async () => {
    const client = createClient({ address: `127.0.0.1:${mtlsPort}`, tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
    const anonymous = createClient({ address: `https://127.0.0.1:${mtlsPort}`, tls: { ca: certs.ca }, retry: false, timeoutMs: 2_000 });
    try {
      expect((await client.info()).version).toBe("billing-service");
      expect(peers.at(-1)).toBe("billing-service");
      expect(((await anonymous.info().catch((e: unknown) => e)) as ProtobusError).code).toBe(Code.UNAVAILABLE);
    } finally {
      await client.close();
      await anonymous.close();
    }
  });

  it("refuses a server whose certificate the CA did not sign, and a plain client", async () => {
    const untrusted = createClient({ address: `https://${tlsServer.address}`, retry: false, timeoutMs: 2_000 });
    const plain = createClient({ address: tlsServer.address, retry: false, timeoutMs: 2_000 });
    try {
      expect(((await untrusted.info().catch((e: unknown) => e)) as ProtobusError).code).toBe(Code.UNAVAILABLE);
      expect(((await plain.info().catch((e: unknown) => e)) as ProtobusError).code).toBe(Code.UNAVAILABLE);
    } finally {
      await untrusted.close();
      await plain.close();
    }
  });
});
