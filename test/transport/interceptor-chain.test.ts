/**
 * The server's one interceptor chain, on a real server with stock grpc-js
 * clients built from the .proto files: hooks run in order for unary and
 * streaming calls, a rejection in onCall or onMessage ends the call with its
 * status before the handler sees it, onEnd gets the final status, and the
 * principal an interceptor sets reaches the handler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { Code, ProtobusError } from "@protobus/sdk";
import { HealthService, type HealthCheckRequest, type HealthCheckResponse } from "@protobus/sdk/proto";
import { callContext, createLogger, interceptorChain, type CallContext, type Interceptor } from "@protobus/server";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { loadPlainService, plainEventBus } from "../support/plain-client.js";
import { freePort } from "../support/free-port.js";

type PlainClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

interface Recorded {
  readonly link: string;
  readonly hook: "onCall" | "onMessage" | "onEnd";
  readonly method: string;
  readonly detail?: unknown;
}

/** An interceptor that writes what it sees to `log`, with optional behaviour per hook. */
function recording(name: string, log: Recorded[], behaviour: Partial<Interceptor> = {}): Interceptor {
  return {
    name,
    onCall(ctx) {
      log.push({ link: name, hook: "onCall", method: ctx.method });
      return behaviour.onCall?.(ctx);
    },
    onMessage(ctx, message) {
      log.push({ link: name, hook: "onMessage", method: ctx.method, detail: message });
      return behaviour.onMessage?.(ctx, message);
    },
    onEnd(ctx, status) {
      log.push({ link: name, hook: "onEnd", method: ctx.method, detail: status.code });
      behaviour.onEnd?.(ctx, status);
    },
  };
}

function unaryCall<T>(client: PlainClient, method: string, request: unknown, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]?.(request, metadata, (error: grpc.ServiceError | null, response: T) => (error ? reject(error) : resolve(response)));
  });
}

function plainEvent(type: string, n: number): Record<string, unknown> {
  return { type, source: "chain-test", data: Buffer.from(`payload ${n}`) };
}

/** Waits until `predicate` holds (the server's onEnd runs after the client saw the status). */
async function eventually(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(predicate()).toBe(true);
}

describe("the server interceptor chain", () => {
  const log: Recorded[] = [];
  let t: TestServer;
  let client: PlainClient;
  let rejectNextMessageOf: string | undefined;

  beforeAll(async () => {
    const authentication = recording("authentication", log, {
      onCall(ctx) {
        if (ctx.metadata.get("x-deny").length > 0) throw new ProtobusError(Code.UNAUTHENTICATED, "no credentials presented");
        ctx.principal = { id: "tester", roles: ["publisher"], via: "test" };
      },
    });
    const authorization = recording("authorization", log, {
      async onCall(ctx) {
        await new Promise((r) => setTimeout(r, 5));
        if (ctx.metadata.get("x-forbid").length > 0) throw new ProtobusError(Code.PERMISSION_DENIED, "not allowed");
      },
    });
    const rateLimit = recording("rateLimit", log, {
      async onMessage(_ctx, message) {
        await new Promise((r) => setTimeout(r, 2));
        const events = (message as { events?: Array<{ type?: string }> }).events ?? [];
        if (events.some((e) => e.type === rejectNextMessageOf)) throw new ProtobusError(Code.RESOURCE_EXHAUSTED, "slow down");
      },
    });
    t = await startTestServer({ store: "memory", interceptors: { authentication, authorization, rateLimit } });
    client = plainEventBus(t.address);
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  const linksOf = (method: string, hook: Recorded["hook"]): string[] =>
    log.filter((r) => r.method === method && r.hook === hook).map((r) => r.link);

  it("runs onCall, onMessage and onEnd of every link in order for a unary call", async () => {
    log.length = 0;
    const response = await unaryCall<{ results: unknown[] }>(client, "Publish", { events: [plainEvent("chain.unary", 1)] });
    expect(response.results).toHaveLength(1);
    await eventually(() => linksOf("Publish", "onEnd").length === 3);
    expect(log.map((r) => `${r.link}.${r.hook}`)).toEqual([
      "authentication.onCall",
      "authorization.onCall",
      "rateLimit.onCall",
      "authentication.onMessage",
      "authorization.onMessage",
      "rateLimit.onMessage",
      "authentication.onEnd",
      "authorization.onEnd",
      "rateLimit.onEnd",
    ]);
    expect(log.filter((r) => r.hook === "onEnd").map((r) => r.detail)).toEqual([grpc.status.OK, grpc.status.OK, grpc.status.OK]);
  });

  it("ends the call with the onCall rejection's status, runs no later onCall and never the handler", async () => {
    log.length = 0;
    const metadata = new grpc.Metadata();
    metadata.set("x-deny", "1");
    const error = await unaryCall(client, "Publish", { events: [plainEvent("chain.denied", 1)] }, metadata).catch((e: unknown) => e);
    expect((error as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((error as grpc.ServiceError).details).toBe("no credentials presented");
    await eventually(() => linksOf("Publish", "onEnd").length === 3);
    expect(linksOf("Publish", "onCall")).toEqual(["authentication"]);
    expect(linksOf("Publish", "onMessage")).toEqual([]);
    expect(log.filter((r) => r.hook === "onEnd").map((r) => r.detail)).toEqual([
      grpc.status.UNAUTHENTICATED,
      grpc.status.UNAUTHENTICATED,
      grpc.status.UNAUTHENTICATED,
    ]);
    const page = await unaryCall<{ events: unknown[] }>(client, "QueryEvents", { patterns: ["chain.denied"] });
    expect(page.events).toEqual([]);
  });

  it("ends the call with an asynchronous onCall rejection's status", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("x-forbid", "1");
    const error = await unaryCall(client, "GetBusInfo", {}, metadata).catch((e: unknown) => e);
    expect((error as grpc.ServiceError).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it("sees each message of a bidi stream in order, and ends the stream when onMessage rejects one", async () => {
    log.length = 0;
    rejectNextMessageOf = "chain.stream.rejected";
    const stream = (client.PublishStream as () => grpc.ClientDuplexStream<unknown, { results: unknown[] }>)();
    const answers: unknown[] = [];
    const ended = new Promise<grpc.ServiceError>((resolve) => {
      stream.on("data", (response: { results: unknown[] }) => answers.push(response));
      stream.on("error", (error: grpc.ServiceError) => resolve(error));
    });
    stream.write({ events: [plainEvent("chain.stream.a", 1)] });
    stream.write({ events: [plainEvent("chain.stream.b", 2)] });
    stream.write({ events: [plainEvent("chain.stream.rejected", 3)] });
    stream.write({ events: [plainEvent("chain.stream.after", 4)] });
    const error = await ended;
    rejectNextMessageOf = undefined;
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(answers).toHaveLength(2);
    const seen = log
      .filter((r) => r.link === "authentication" && r.hook === "onMessage" && r.method === "PublishStream")
      .map((r) => (r.detail as { events: Array<{ type: string }> }).events[0]?.type);
    expect(seen.slice(0, 3)).toEqual(["chain.stream.a", "chain.stream.b", "chain.stream.rejected"]);
    await eventually(() => linksOf("PublishStream", "onEnd").length === 3);
    expect(log.find((r) => r.method === "PublishStream" && r.hook === "onEnd")?.detail).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const stored = await unaryCall<{ events: Array<{ type: string }> }>(client, "QueryEvents", { patterns: ["chain.stream.>"] });
    expect(stored.events.map((e) => e.type)).toEqual(["chain.stream.a", "chain.stream.b"]);
  });

  it("runs onMessage for each message of a subscription and onEnd once when it ends", async () => {
    log.length = 0;
    const stream = (client.Subscribe as () => grpc.ClientDuplexStream<unknown, Record<string, unknown>>)();
    const opened = new Promise<void>((resolve) => stream.on("data", (m: Record<string, unknown>) => m.opened !== undefined && resolve()));
    stream.on("error", () => undefined);
    stream.write({ open: { patterns: ["chain.sub.>"] } });
    await opened;
    stream.write({ credit: { count: 5 } });
    await eventually(() => linksOf("Subscribe", "onMessage").length === 6);
    expect(linksOf("Subscribe", "onMessage")).toEqual(["authentication", "authorization", "rateLimit", "authentication", "authorization", "rateLimit"]);
    stream.end();
    await eventually(() => linksOf("Subscribe", "onEnd").length === 3);
    expect(log.find((r) => r.method === "Subscribe" && r.hook === "onEnd")?.detail).toBe(grpc.status.OK);
  });

  it("runs onEnd with CANCELLED when the client cancels a server stream", async () => {
    log.length = 0;
    const Health = loadPlainService("grpc/health/v1/health.proto", "grpc.health.v1.Health");
    const health = new Health(t.address, grpc.credentials.createInsecure()) as unknown as PlainClient;
    try {
      const watch = (health.Watch as (r: unknown) => grpc.ClientReadableStream<unknown>)({ service: "" });
      watch.on("error", () => undefined);
      await new Promise((resolve) => watch.once("data", resolve));
      expect(linksOf("Watch", "onMessage")).toEqual(["authentication", "authorization", "rateLimit"]);
      watch.cancel();
      await eventually(() => linksOf("Watch", "onEnd").length === 3);
      expect(log.filter((r) => r.method === "Watch" && r.hook === "onEnd").map((r) => r.detail)).toEqual([
        grpc.status.CANCELLED,
        grpc.status.CANCELLED,
        grpc.status.CANCELLED,
      ]);
    } finally {
      health.close();
    }
  });
});

describe("the metrics link", () => {
  it("counts calls by method and status, rejected ones included", async () => {
    const deny: Interceptor = {
      name: "authentication",
      onCall(ctx) {
        if (ctx.method === "GetEvent") throw new ProtobusError(Code.UNAUTHENTICATED, "denied");
      },
    };
    await using t = await startTestServer({ store: "memory", metricsPort: await freePort(), interceptors: { authentication: deny } });
    const client = plainEventBus(t.address);
    try {
      await unaryCall(client, "GetBusInfo", {});
      await unaryCall(client, "GetEvent", { id: "x" }).catch(() => undefined);
      const text = await (await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`)).text();
      expect(text).toContain('protobus_rpcs_total{service="protobus.v1.EventBus",method="GetBusInfo",code="OK"} 1');
      expect(text).toContain('protobus_rpcs_total{service="protobus.v1.EventBus",method="GetEvent",code="UNAUTHENTICATED"} 1');
      expect(text).toMatch(/protobus_rpc_duration_seconds_count\{service="protobus.v1.EventBus",method="GetBusInfo"\} 1/);
    } finally {
      client.close();
    }
  });
});

/** A Health service behind a chain of `interceptors`, on a free port, and its client constructor. */
async function healthServer(interceptors: Interceptor[], implementation: grpc.UntypedServiceImplementation) {
  const server = new grpc.Server({ interceptors: [interceptorChain(interceptors, { logger: createLogger({ level: "silent", format: "text" }) })] });
  server.addService(HealthService as unknown as grpc.ServiceDefinition, implementation);
  const port = await freePort();
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return { server, Client: grpc.makeClientConstructor(HealthService as unknown as grpc.ServiceDefinition, "Health"), address: `127.0.0.1:${port}` };
}

describe("the call context", () => {
  it("carries the principal an interceptor set, the deadline and the abort signal to the handler", async () => {
    const seen: CallContext[] = [];
    const authentication: Interceptor = {
      name: "authentication",
      onCall(ctx) {
        ctx.principal = { id: ctx.metadata.get("x-user")[0] as string, roles: ["reader"], via: "header" };
        ctx.state.set("checked", true);
      },
    };
    const { server, Client, address } = await healthServer([authentication], {
      check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) => {
        const ctx = callContext(call);
        seen.push(ctx);
        callback(null, { status: ctx.principal?.id === "alice" && ctx.state.get("checked") === true ? 1 : 2 });
      },
    });
    const client = new Client(address, grpc.credentials.createInsecure()) as unknown as PlainClient;
    try {
      const metadata = new grpc.Metadata();
      metadata.set("x-user", "alice");
      const deadline = new Date(Date.now() + 30_000);
      const response = await new Promise<HealthCheckResponse>((resolve, reject) =>
        client.check?.({ service: "" }, metadata, { deadline }, (error: grpc.ServiceError | null, r: HealthCheckResponse) =>
          error ? reject(error) : resolve(r),
        ),
      );
      expect(response.status).toBe(1);
      const ctx = seen[0] as CallContext;
      expect(ctx.principal).toEqual({ id: "alice", roles: ["reader"], via: "header" });
      expect(ctx.service).toBe("grpc.health.v1.Health");
      expect(ctx.method).toBe("Check");
      expect(ctx.kind).toBe("unary");
      expect(ctx.peer).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(Math.abs((ctx.deadline?.getTime() ?? 0) - deadline.getTime())).toBeLessThan(1000);
      await eventually(() => ctx.signal.aborted);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it("aborts a signal read during the call when the client cancels, with the final status as its reason", async () => {
    const during: { aborted: boolean; reason: unknown }[] = [];
    let aborted: (reason: unknown) => void = () => undefined;
    const abortReason = new Promise<unknown>((resolve) => (aborted = resolve));
    const { server, Client, address } = await healthServer([], {
      // Never answers: the call ends only when the client cancels it.
      check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>) => {
        const signal = callContext(call).signal;
        during.push({ aborted: signal.aborted, reason: signal.reason });
        signal.addEventListener("abort", () => aborted(signal.reason));
      },
    });
    const client = new Client(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      check(request: HealthCheckRequest, callback: (error: grpc.ServiceError | null) => void): grpc.ClientUnaryCall;
    };
    try {
      const call = client.check({ service: "" }, () => undefined);
      await eventually(() => during.length === 1);
      call.cancel();
      expect(await abortReason).toEqual({ code: grpc.status.CANCELLED, details: "cancelled by the client" });
      expect(during).toEqual([{ aborted: false, reason: undefined }]);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it("hands a signal first read after the call ended already aborted, with the status sent", async () => {
    let ctx: CallContext | undefined;
    const { server, Client, address } = await healthServer([], {
      check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) => {
        ctx = callContext(call);
        callback({ code: grpc.status.NOT_FOUND, details: "no such service" });
      },
    });
    const client = new Client(address, grpc.credentials.createInsecure()) as unknown as PlainClient;
    try {
      const error = await new Promise<grpc.ServiceError | null>((resolve) => client.check?.({ service: "x" }, new grpc.Metadata(), {}, resolve));
      expect(error?.code).toBe(grpc.status.NOT_FOUND);
      await eventually(() => ctx?.signal.aborted === true);
      expect(ctx?.signal.reason).toEqual({ code: grpc.status.NOT_FOUND, details: "no such service" });
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
