import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import type { Logger } from "../../logger.js";
import { jetstreamError } from "./errors.js";

/** How to reach and authenticate to a NATS cluster. */
export interface NatsConnectionOptions {
  /** Server URLs (`nats://host:4222`); the client fails over between them and learns the rest of the cluster. */
  readonly servers: readonly string[];
  /** User name, with `password`. */
  readonly user?: string;
  /** Password of `user`. */
  readonly password?: string;
  /** Authentication token. */
  readonly token?: string;
  /** Path of a `.creds` file (JWT and NKey seed), for operator-mode accounts. */
  readonly credsFile?: string;
  /** PEM file of the CA that signed the servers' certificates; turns TLS on. */
  readonly tlsCaFile?: string;
  /** PEM client certificate, for servers that verify clients; turns TLS on. */
  readonly tlsCertFile?: string;
  /** PEM key of `tlsCertFile`. */
  readonly tlsKeyFile?: string;
  /** Name the connection shows in the server's monitoring. */
  readonly name?: string;
  /** Where the connection's losses, reconnects and server errors are told (see {@link logNatsStatus}); none by default. */
  readonly logger?: Logger;
}

/**
 * Connects to NATS, retrying forever once connected: a protobus server
 * outlives restarts and failovers of single cluster nodes.
 */
export async function connectNats(options: NatsConnectionOptions): Promise<NatsConnection> {
  const tls =
    options.tlsCaFile !== undefined || options.tlsCertFile !== undefined
      ? {
          ...(options.tlsCaFile !== undefined ? { caFile: options.tlsCaFile } : {}),
          ...(options.tlsCertFile !== undefined ? { certFile: options.tlsCertFile } : {}),
          ...(options.tlsKeyFile !== undefined ? { keyFile: options.tlsKeyFile } : {}),
        }
      : undefined;
  const connectOptions: NodeConnectionOptions = {
    servers: [...options.servers],
    name: options.name ?? "protobus",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // Publishes made while reconnecting wait in the client's buffer.
    waitOnFirstConnect: false,
    ...(options.user !== undefined ? { user: options.user, pass: options.password ?? "" } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.credsFile !== undefined ? { authenticator: credsAuthenticator(readFileSync(options.credsFile)) } : {}),
    ...(tls !== undefined ? { tls } : {}),
  };
  let nc: NatsConnection;
  try {
    nc = await connect(connectOptions);
  } catch (error) {
    throw jetstreamError(`connect to ${options.servers.join(",")}`, error);
  }
  if (options.logger !== undefined) logNatsStatus(nc, options.logger).catch(() => undefined);
  return nc;
}

/**
 * Tells the log what happens to the NATS connection while it is open: the
 * loss of a server (publishes wait in the client's buffer, reads and group
 * state writes fail or retry until it is back), the reconnect, a server
 * going into lame duck mode, errors the server sends, and changes to the
 * cluster's servers. Ends when the connection closes.
 */
export async function logNatsStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const status of nc.status()) {
    switch (status.type) {
      case "disconnect":
        logger.warn(`lost the NATS connection to ${status.server}; reconnecting (publishes wait, reads fail with UNAVAILABLE until it is back)`, { server: status.server });
        break;
      case "reconnect":
        logger.info(`reconnected to NATS at ${status.server}`, { server: status.server });
        break;
      case "ldm":
        logger.warn(`NATS server ${status.server} is shutting down (lame duck mode); the connection moves to another server`, { server: status.server });
        break;
      case "error":
        logger.warn(`NATS server error: ${status.error.message}`);
        break;
      case "staleConnection":
        logger.warn("the NATS connection is stale (pings unanswered); reconnecting");
        break;
      case "update":
        logger.debug("NATS cluster servers changed", { added: status.added ?? [], deleted: status.deleted ?? [] });
        break;
      default:
        // reconnecting (each attempt), ping, slowConsumer, forceReconnect, close: nothing to tell.
        break;
    }
  }
}
