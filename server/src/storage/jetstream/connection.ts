import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
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
  try {
    return await connect(connectOptions);
  } catch (error) {
    throw jetstreamError(`connect to ${options.servers.join(",")}`, error);
  }
}
