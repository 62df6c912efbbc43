/**
 * The HTTP endpoint Prometheus scrapes: `GET /metrics` in the text
 * exposition format; anything else is 404.
 */
import { createServer, type Server } from "node:http";
import type { BusMetrics } from "./metrics.js";

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening. */
  close(): Promise<void>;
}

/** Serves `metrics` on `host:port` (port 0 picks a free one). */
export async function startMetricsServer(metrics: BusMetrics, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: scrape GET /metrics\n");
      return;
    }
    metrics.scrape().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
