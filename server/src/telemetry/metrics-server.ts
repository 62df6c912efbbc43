/**
 * The HTTP endpoint Prometheus scrapes: `GET /metrics` in the text
 * exposition format; anything else is 404. With TLS configured it is served
 * over HTTPS with the gRPC listener's certificate (reloaded with it); with
 * authentication on, a scrape must carry credentials (`Authorization:
 * Bearer ...`, or a client certificate under mutual TLS) of a principal the
 * policy grants `admin: [view]`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TlsCertificates } from "../security/tls-credentials.js";
import { createHttpEndpoint, type HttpEndpointLimits } from "../transport/http-endpoint.js";
import type { BusMetrics } from "./metrics.js";

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** The port it listens on. */
  readonly port: number;
  /** `http` or `https`. */
  readonly scheme: "http" | "https";
  /** Stops listening. */
  close(): Promise<void>;
}

/** How a scrape is let in: 200 to serve it, 401 or 403 to refuse it. */
export type ScrapeGate = (request: IncomingMessage) => Promise<200 | 401 | 403>;

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** Serve HTTPS with these certificates (client certificates required when they are mutual). */
  readonly tls?: TlsCertificates | undefined;
  /** Decides whether a scrape is served; everything is served without one. */
  readonly gate?: ScrapeGate | undefined;
  /** Connection limits (the gRPC listener's `--max-connections` and `--handshake-timeout`); their defaults when absent. */
  readonly limits?: HttpEndpointLimits | undefined;
}

/** Serves `metrics` on `host:port` (port 0 picks a free one). */
export async function startMetricsServer(metrics: BusMetrics, host: string, port: number, options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: scrape GET /metrics\n");
      return;
    }
    const gate = options.gate ?? (() => Promise.resolve(200 as const));
    gate(request)
      .then(async (verdict) => {
        if (verdict === 401) {
          response.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="protobus"' }).end("missing or invalid credentials\n");
          return;
        }
        if (verdict === 403) {
          response.writeHead(403, { "content-type": "text/plain" }).end("this principal lacks admin 'view'\n");
          return;
        }
        const text = await metrics.scrape();
        response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text);
      })
      .catch((error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`));
  };
  const { server, scheme, stopFollowing } = createHttpEndpoint(handle, { tls: options.tls, requestClientCertificate: true, limits: options.limits });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : port,
    scheme,
    close: () =>
      new Promise<void>((resolve) => {
        stopFollowing();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
