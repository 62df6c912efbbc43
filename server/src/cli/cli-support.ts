/**
 * Pieces every client command of the CLI shares: the `--address` option
 * and how to connect (TLS, mutual TLS, a bearer token), output streams and
 * JSON printing that keeps bigints.
 */
import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { createClient, type ProtobusClient, type TlsOptions } from "@protobus/sdk";

/** The address a client command talks to when told nothing. */
export const DEFAULT_ADDRESS = "127.0.0.1:50051";

/** Where the CLI writes; tests capture it. */
export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** `-a, --address`, also read from PROTOBUS_ADDRESS. */
export function addressOption(): Option {
  return new Option("-a, --address <host:port>", "protobus server address (https://host:port for TLS)").env("PROTOBUS_ADDRESS").default(DEFAULT_ADDRESS);
}

/** The options that say how to connect, beside `--address`. */
function connectionOptions(): Option[] {
  return [
    new Option("--tls-ca <file>", "PEM CA of the server's certificate; turns TLS on (default with https://: the system's roots)").env("PROTOBUS_TLS_CA"),
    new Option("--tls-cert <file>", "PEM client certificate for mutual TLS (with --tls-key)").env("PROTOBUS_TLS_CERT"),
    new Option("--tls-key <file>", "PEM key of --tls-cert").env("PROTOBUS_TLS_KEY"),
    new Option("--token <token>", "bearer token (protobus token create, or a JWT)").env("PROTOBUS_TOKEN"),
  ];
}

/** Adds the connection options to every command under `program` that takes `--address`. */
export function addConnectionOptions(program: Command): void {
  for (const command of program.commands) {
    if (command.options.some((o) => o.long === "--address")) for (const option of connectionOptions()) command.addOption(option);
    addConnectionOptions(command);
  }
}

/** The address, TLS settings and token a client command was given. */
export function connection(o: Record<string, unknown>): { address: string; tls?: TlsOptions; token?: string } {
  const file = (key: string): Buffer | undefined => (typeof o[key] === "string" ? readFileSync(o[key]) : undefined);
  const ca = file("tlsCa");
  const cert = file("tlsCert");
  const key = file("tlsKey");
  const tls = ca !== undefined || cert !== undefined || key !== undefined ? { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) } : undefined;
  return {
    address: o.address as string,
    ...(tls !== undefined ? { tls } : {}),
    ...(typeof o.token === "string" && o.token !== "" ? { token: o.token } : {}),
  };
}

/** Runs `run` with an event bus client for the command's connection options, closing it after. */
export async function withBusClient<T>(o: Record<string, unknown>, run: (client: ProtobusClient) => Promise<T>): Promise<T> {
  const client = createClient(connection(o));
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

/** JSON with bigints as decimal strings. */
export function printJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
