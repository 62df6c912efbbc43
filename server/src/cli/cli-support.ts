/**
 * Pieces every client command of the CLI shares: the `--address` option,
 * output streams and JSON printing that keeps bigints.
 */
import { Option } from "commander";

/** The address a client command talks to when told nothing. */
export const DEFAULT_ADDRESS = "127.0.0.1:50051";

/** Where the CLI writes; tests capture it. */
export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** `-a, --address`, also read from PROTOBUS_ADDRESS. */
export function addressOption(): Option {
  return new Option("-a, --address <host:port>", "protobus server address").env("PROTOBUS_ADDRESS").default(DEFAULT_ADDRESS);
}

/** JSON with bigints as decimal strings. */
export function printJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
