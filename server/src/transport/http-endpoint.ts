/**
 * The HTTP(S) servers beside the gRPC listener (`/metrics` and the console),
 * created with the same connection limits the gRPC listener has: a socket
 * that has not sent a complete request head within the handshake timeout is
 * closed (Node's own defaults keep a silent socket for a minute or more, and
 * check only every 30 s), a TLS handshake gets the same time, and at most
 * `maxConnections` sockets are open at once (Node drops the ones over it).
 * With TLS the server follows certificate reloads: new connections get the
 * new certificates.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { DEFAULT_CONFIG } from "../config.js";
import type { TlsCertificates } from "../security/tls-credentials.js";

/** The connection limits of an HTTP endpoint (the gRPC listener's flags). */
export interface HttpEndpointLimits {
  /** Sockets open at once (`--max-connections`). */
  readonly maxConnections: number;
  /** Time for a socket to send a whole request head, and for a TLS handshake, in ms (`--handshake-timeout`; 0: Node's defaults). */
  readonly handshakeTimeoutMs: number;
}

/** What an endpoint gets when its starter is given no limits: the flags' defaults. */
function defaultLimits(): HttpEndpointLimits {
  return { maxConnections: DEFAULT_CONFIG.maxConnections, handshakeTimeoutMs: DEFAULT_CONFIG.handshakeTimeoutMs };
}

/** Time for a whole request (head and body) once its head is in. */
const REQUEST_TIMEOUT_MS = 60_000;

/** Options of {@link createHttpEndpoint}. */
export interface HttpEndpointOptions {
  /** Serve HTTPS with these certificates; HTTP without. */
  readonly tls?: TlsCertificates | undefined;
  /** Ask for (and require) a client certificate when the certificates are mutual. */
  readonly requestClientCertificate?: boolean;
  readonly limits?: HttpEndpointLimits | undefined;
}

/** An HTTP(S) server, not yet listening. */
export interface HttpEndpoint {
  readonly server: Server;
  /** `http` or `https`. */
  readonly scheme: "http" | "https";
  /** Stops following certificate reloads. */
  readonly stopFollowing: () => void;
}

/** Creates the server of an endpoint with its limits; `listen` is left to the caller. */
export function createHttpEndpoint(handler: (request: IncomingMessage, response: ServerResponse) => void, options: HttpEndpointOptions = {}): HttpEndpoint {
  const limits = options.limits ?? defaultLimits();
  const timeout = limits.handshakeTimeoutMs;
  const timing =
    timeout > 0
      ? {
          headersTimeout: timeout,
          requestTimeout: Math.max(REQUEST_TIMEOUT_MS, timeout),
          // How often Node looks for sockets past those timeouts (30 s by default).
          connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(timeout / 2))),
        }
      : {};
  const tls = options.tls;
  let endpoint: HttpEndpoint;
  if (tls === undefined) {
    endpoint = { server: createServer(timing, handler), scheme: "http", stopFollowing: () => undefined };
  } else {
    const mutual = options.requestClientCertificate === true && tls.mutual;
    const https = createHttpsServer(
      { ...tls.secureContextOptions(), requestCert: mutual, rejectUnauthorized: mutual, ...timing, ...(timeout > 0 ? { handshakeTimeout: timeout } : {}) },
      handler,
    );
    endpoint = { server: https, scheme: "https", stopFollowing: tls.onChange((context) => https.setSecureContext(context)) };
  }
  endpoint.server.maxConnections = limits.maxConnections;
  if (timeout > 0) closeSilentSockets(endpoint.server, tls === undefined ? "connection" : "secureConnection", timeout);
  return endpoint;
}

/**
 * Closes a socket whose first request head has not arrived within
 * `timeoutMs` of its connection (of its TLS handshake, with TLS). Node's
 * `headersTimeout` covers a request once its first byte is in, not a socket
 * that never sends one; after the first request, `keepAliveTimeout` and
 * `headersTimeout` take over.
 */
function closeSilentSockets(server: Server, event: "connection" | "secureConnection", timeoutMs: number): void {
  const timers = new WeakMap<Socket, NodeJS.Timeout>();
  server.on(event, (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), timeoutMs).unref();
    timers.set(socket, timer);
    socket.once("close", () => clearTimeout(timer));
  });
  server.on("request", (request: IncomingMessage) => {
    const timer = timers.get(request.socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    timers.delete(request.socket);
  });
}
