/**
 * The web console's HTTP server (`--console-port`): the page, its JSON API
 * (one route per RPC, forwarded to the server's own gRPC listener, see
 * json-gateway.ts) and the live stream (live-stream.ts). It holds no data of
 * its own and no second model of the contract; what it answers is what the
 * gRPC services answer the same caller.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { DEFAULT_CONFIG } from "../config.js";
import { limitExceeded } from "../errors.js";
import type { Logger } from "../logger.js";
import type { TlsCertificates } from "../security/tls-credentials.js";
import { createHttpEndpoint, type HttpEndpointLimits } from "../transport/http-endpoint.js";
import { API_PREFIX, loadContractRoutes, type ContractRoutes } from "./contract-routes.js";
import { GrpcForwarder } from "./grpc-forwarder.js";
import { header, sendJson } from "./http-io.js";
import { handleUnary, sendError } from "./json-gateway.js";
import { DEFAULT_LIVE_STREAM_LIMITS, handleLiveStream, type LiveStreamLimits, type LiveStreamStats } from "./live-stream.js";
import { handleSession, OPEN_ACCESS, type ConsoleAccess } from "./session.js";
import { StaticAssets } from "./static-assets.js";

/** Options of {@link startConsoleServer}. */
export interface ConsoleServerOptions {
  /** Interface to listen on. */
  readonly host: string;
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** `host:port` of the server's gRPC listener, which every call goes through. */
  readonly grpcAddress: string;
  /** Base URL of a Jaeger UI for trace links; empty for none. */
  readonly jaegerUrl: string;
  /** The server's version, shown by the page. */
  readonly version: string;
  /** Largest accepted request body, in bytes. */
  readonly maxBodyBytes: number;
  /** Limits of each browser's live stream. */
  readonly liveStream?: Partial<LiveStreamLimits>;
  /** Live streams open at once, all browsers together (`--console-max-live-views`, 64 by default). */
  readonly maxLiveViews?: number;
  /** What a browser's principal may do; everything when absent (no authentication). */
  readonly access?: ConsoleAccess;
  /**
   * The server's certificates when TLS is on: the console is served over
   * HTTPS with them, and reaches the gRPC listener over TLS. Mutual TLS is
   * refused: the console cannot pass a browser's certificate on.
   */
  readonly tls?: TlsCertificates | undefined;
  /** Where the page's build is; server/dist/console-ui by default. */
  readonly assetsDir?: string;
  /** Connection limits (the gRPC listener's `--max-connections` and `--handshake-timeout`); their defaults when absent. */
  readonly limits?: HttpEndpointLimits | undefined;
  readonly logger: Logger;
}

/** A running console server. */
export interface ConsoleServer {
  /** The port it listens on. */
  readonly port: number;
  /** `http://host:port/`. */
  readonly url: string;
  /** Live streams open now, with their counters. */
  readonly liveStreams: ReadonlySet<LiveStreamStats>;
  /** Ends the live streams and stops listening. */
  close(): Promise<void>;
}

/** Starts the console server. */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const routes: ContractRoutes = loadContractRoutes();
  const assets = new StaticAssets(options.assetsDir);
  if (!assets.built) options.logger.warn("the console page was not built; run `npm install` or `npm run build -w console`");
  const tls = options.tls;
  if (tls?.mutual === true) {
    throw new RangeError("the console does not work with mutual TLS (--tls-client-ca): it cannot pass a browser's client certificate on to the gRPC listener; use bearer tokens or JWTs for the console's users");
  }
  const certificate = (): Buffer => Buffer.from(String(tls?.secureContextOptions().cert ?? ""));
  const forwarder = new GrpcForwarder({ address: options.grpcAddress, unaryTimeoutMs: 30_000, ...(tls !== undefined ? { serverCertificate: certificate } : {}) });
  const liveStreams = new Set<LiveStreamStats>();
  const limits: LiveStreamLimits = { ...DEFAULT_LIVE_STREAM_LIMITS, ...options.liveStream };
  const pageConfig = JSON.stringify({ jaegerUrl: options.jaegerUrl, version: options.version });

  const api: ApiContext = { routes, forwarder, limits, liveStreams, maxLiveViews: options.maxLiveViews ?? DEFAULT_CONFIG.consoleMaxLiveViews, maxBodyBytes: options.maxBodyBytes };
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? "/", "http://console").pathname;
    if (path.startsWith(API_PREFIX)) {
      await serveApi(request, response, path.slice(API_PREFIX.length), api);
      return;
    }
    if (path === "/session") {
      if (!sameOrigin(request)) {
        sendError(response, routes.registry, GrpcStatus.PERMISSION_DENIED, "cross-origin calls to the console are refused");
        return;
      }
      await handleSession(request, response, options.access ?? OPEN_ACCESS, routes.registry);
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/config.json") {
      response.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
      response.end(pageConfig);
      return;
    }
    assets.serve(path, response);
  };

  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    handle(request, response).catch((error: unknown) => {
      options.logger.error("console request failed", { path: request.url, error: (error as Error).message });
      if (!response.headersSent) sendJson(response, 500, { code: "internal", message: "the console failed to answer" });
      else response.destroy();
    });
  };
  const { server, stopFollowing } = createHttpEndpoint(listener, { tls, limits: options.limits });
  try {
    await listen(server, options.port, options.host);
  } catch (error) {
    stopFollowing();
    forwarder.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    port,
    url: `${tls === undefined ? "http" : "https"}://${host}:${port}/`,
    liveStreams,
    close: async () => {
      stopFollowing();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      forwarder.close();
    },
  };
}

/** What the console's API routes share. */
interface ApiContext {
  readonly routes: ContractRoutes;
  readonly forwarder: GrpcForwarder;
  readonly limits: LiveStreamLimits;
  readonly liveStreams: Set<LiveStreamStats>;
  readonly maxLiveViews: number;
  readonly maxBodyBytes: ConsoleServerOptions["maxBodyBytes"];
}

/** Answers `/api/<service>/<method>`: the live stream, or one unary RPC forwarded to the gRPC listener. */
async function serveApi(request: IncomingMessage, response: ServerResponse, name: string, api: ApiContext): Promise<void> {
  if (!sameOrigin(request)) {
    sendError(response, api.routes.registry, GrpcStatus.PERMISSION_DENIED, "cross-origin calls to the console API are refused");
    return;
  }
  if (name === api.routes.subscribe.name) {
    if (api.liveStreams.size >= api.maxLiveViews) {
      const refusal = limitExceeded({
        limit: "console-max-live-views",
        value: api.maxLiveViews,
        subject: "console",
        description: `the console streams at most ${api.maxLiveViews} live views at once; close one, or raise --console-max-live-views`,
      });
      sendError(response, api.routes.registry, refusal.code, refusal.rawMessage, refusal.toServiceStatus().metadata);
      return;
    }
    await handleLiveStream(request, response, api.routes.subscribe, {
      registry: api.routes.registry,
      forwarder: api.forwarder,
      limits: api.limits,
      onOpen: (stats) => api.liveStreams.add(stats),
      onClose: (stats) => api.liveStreams.delete(stats),
    });
    return;
  }
  const route = api.routes.unary.get(name);
  if (route === undefined) {
    sendError(response, api.routes.registry, GrpcStatus.UNIMPLEMENTED, `no RPC ${name}; routes are /api/<service>/<method>, e.g. /api/protobus.v1.EventBus/QueryEvents`);
    return;
  }
  await handleUnary(request, response, route, { registry: api.routes.registry, forwarder: api.forwarder, maxBodyBytes: api.maxBodyBytes });
}

/** Listens on `port` of `host`; rejects when the port cannot be bound. */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * A browser sends `Origin` with every cross-origin request (and with POSTs of
 * its own origin): a page of another site cannot use the console's API with
 * the user's network position or stored token.
 */
function sameOrigin(request: IncomingMessage): boolean {
  const origin = header(request, "origin");
  if (origin === undefined || origin === "null") return origin === undefined;
  try {
    return new URL(origin).host === header(request, "host");
  } catch {
    return false;
  }
}
