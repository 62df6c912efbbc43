/**
 * The server's listening socket, in front of grpc-js: every TCP connection
 * must open with the HTTP/2 client preface within the handshake timeout or
 * it is closed (a socket that never speaks HTTP/2 holds nothing for long),
 * and at most `maxConnections` connections are served at once. A connection
 * over that limit is still answered in gRPC: every call on it fails with
 * RESOURCE_EXHAUSTED naming `max-connections` (with ErrorInfo and
 * QuotaFailure details), and the connection is closed shortly after. The
 * accepted connections are handed to the grpc-js server through its
 * connection injector (with the listener's credentials, TLS included), so keepalive, the stream cap
 * (`grpc.max_concurrent_streams`) and shutdown work as with its own
 * listener.
 */
import { createServer, type Server as NetServer, type Socket } from "node:net";
import {
  Server,
  ServerInterceptingCall,
  type ServerCredentials,
  type ServerInterceptor,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { limitExceeded } from "../errors.js";
import type { Logger } from "../logger.js";

/** What every HTTP/2 connection starts with (RFC 9113, 3.4). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** How long a refused connection stays open for its calls to be answered. */
const REFUSED_LINGER_MS = 2_000;

/** Fewest bytes a TLS peer has sent once it has said hello and opened HTTP/2 (a client hello alone is larger). */
const TLS_MIN_BYTES = 200;

/**
 * Connections the kernel queues before they are accepted (clamped to
 * `net.core.somaxconn`). Node's default of 511 overflows when a burst of
 * clients connects while the server is busy: the kernel then drops their
 * SYNs and final ACKs, and a client can be left believing it is connected to
 * a connection the server never sees (and so never times out).
 */
const LISTEN_BACKLOG = 4096;

/** Refused connections kept open at once; past this they are closed at once. */
const MAX_REFUSED_OPEN = 256;

/** Options of {@link ConnectionGate.listen}. */
export interface ConnectionGateOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Connections served at once (`--max-connections`). */
  readonly maxConnections: number;
  /** A connection that has not sent the HTTP/2 preface within this many ms is closed (`--handshake-timeout`; 0: never). */
  readonly handshakeTimeoutMs: number;
  /** Credentials of the listener (TLS or insecure). */
  readonly credentials: ServerCredentials;
  /**
   * True when `credentials` are TLS: the first bytes are then a TLS
   * handshake, not the HTTP/2 preface, and grpc-js runs the handshake; a
   * connection is closed at the timeout when it has not sent at least a
   * TLS client hello and an HTTP/2 preface worth of bytes by then.
   */
  readonly tls: boolean;
  /** The services the server hosts, so that calls on refused connections reach the refusal. */
  readonly services: readonly ServiceDefinition[];
  readonly logger: Logger;
}

/** Counters of the gate, for tests and logs. */
export interface ConnectionGateStats {
  /** Connections served now. */
  readonly open: number;
  /** Connections closed because they did not speak HTTP/2 in time (or spoke something else). */
  readonly handshakeFailures: number;
  /** Connections refused because `maxConnections` were open. */
  readonly refused: number;
}

/** The listening socket and its limits. */
export class ConnectionGate {
  readonly #net: NetServer;
  readonly #sockets = new Set<Socket>();
  readonly #refusing: Server;
  #open = 0;
  #refusedOpen = 0;
  #handshakeFailures = 0;
  #refused = 0;

  private constructor(net: NetServer, refusing: Server) {
    this.#net = net;
    this.#refusing = refusing;
  }

  /**
   * Listens on `options.host:port` and hands connections that open with
   * HTTP/2 to `server`. Rejects when the address cannot be listened on.
   */
  static async listen(server: Server, options: ConnectionGateOptions): Promise<ConnectionGate> {
    const credentials = options.credentials;
    const injector = server.createConnectionInjector(credentials);
    const refusing = refusingServer(options);
    const refusedInjector = refusing.createConnectionInjector(credentials);
    const net = createServer({ pauseOnConnect: false, noDelay: true });
    const gate = new ConnectionGate(net, refusing);
    net.on("connection", (socket) => gate.#accept(socket, options, (s) => injector.injectConnection(s), (s) => refusedInjector.injectConnection(s)));
    await new Promise<void>((resolve, reject) => {
      net.once("error", reject);
      net.listen({ port: options.port, host: options.host, backlog: LISTEN_BACKLOG }, () => {
        net.off("error", reject);
        resolve();
      });
    });
    net.on("error", (error) => options.logger.error("listening socket failed", { error }));
    return gate;
  }

  /** The port listened on. */
  get port(): number {
    const address = this.#net.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  /** What the gate did so far. */
  stats(): ConnectionGateStats {
    return { open: this.#open, handshakeFailures: this.#handshakeFailures, refused: this.#refused };
  }

  /** Stops accepting connections; the ones handed to grpc-js close with its shutdown. */
  close(): void {
    this.#net.close();
    for (const socket of this.#sockets) socket.destroy();
    this.#refusing.forceShutdown();
  }

  #accept(socket: Socket, options: ConnectionGateOptions, serve: (s: Socket) => void, refuse: (s: Socket) => void): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (options.tls) {
      this.#acceptTls(socket, options, serve, refuse);
      return;
    }
    let received: Buffer<ArrayBufferLike> = Buffer.alloc(0);
    const timer =
      options.handshakeTimeoutMs > 0
        ? setTimeout(() => {
            this.#handshakeFailures += 1;
            socket.destroy();
          }, options.handshakeTimeoutMs).unref()
        : undefined;
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const compared = Math.min(received.length, PREFACE.length);
      if (!received.subarray(0, compared).equals(PREFACE.subarray(0, compared))) {
        clearTimeout(timer);
        this.#handshakeFailures += 1;
        socket.destroy();
        return;
      }
      if (received.length < PREFACE.length) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      // The HTTP/2 session reads what is buffered first: the preface and whatever followed it.
      socket.unshift(received);
      this.#sockets.delete(socket);
      this.#admit(socket, options, serve, refuse);
    };
    socket.on("data", onData);
  }

  /** TLS: grpc-js runs the handshake; the timeout checks that the peer has sent enough to have opened HTTP/2. */
  #acceptTls(socket: Socket, options: ConnectionGateOptions, serve: (s: Socket) => void, refuse: (s: Socket) => void): void {
    if (options.handshakeTimeoutMs > 0) {
      setTimeout(() => {
        if (!socket.destroyed && socket.bytesRead < TLS_MIN_BYTES) {
          this.#handshakeFailures += 1;
          socket.destroy();
        }
        this.#sockets.delete(socket);
      }, options.handshakeTimeoutMs).unref();
    }
    this.#admit(socket, options, serve, refuse);
  }

  /** Serves a connection, or refuses its calls when `maxConnections` are open. */
  #admit(socket: Socket, options: ConnectionGateOptions, serve: (s: Socket) => void, refuse: (s: Socket) => void): void {
    if (this.#open < options.maxConnections) {
      this.#open += 1;
      socket.once("close", () => (this.#open -= 1));
      serve(socket);
      return;
    }
    this.#refused += 1;
    if (this.#refusedOpen >= MAX_REFUSED_OPEN) {
      socket.destroy();
      return;
    }
    this.#refusedOpen += 1;
    socket.once("close", () => (this.#refusedOpen -= 1));
    setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
    refuse(socket);
  }
}

/**
 * A grpc-js server whose every call fails with RESOURCE_EXHAUSTED naming
 * `max-connections`: it answers the calls of connections over the limit.
 */
function refusingServer(options: ConnectionGateOptions): Server {
  const status = limitExceeded({
    limit: "max-connections",
    value: options.maxConnections,
    subject: `${options.host}:${options.port}`,
    description: `the server has ${options.maxConnections} connections open; reuse a connection for many calls, or retry later`,
  }).toServiceStatus();
  const refuseAll: ServerInterceptor = (_method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: () => call.sendStatus(status),
          onReceiveMessage: () => undefined,
          onReceiveHalfClose: () => undefined,
          onCancel: () => undefined,
        });
      },
    });
  const server = new Server({ interceptors: [refuseAll] });
  for (const service of options.services) server.addService(service, {});
  return server;
}
