/**
 * Where and how a client connects: `host:port` (insecure, the default for
 * loopback and trusted networks), `http://host:port` (the same, spelled
 * out), or `https://host[:port]` (TLS, port 443 by default, the system's
 * roots unless a CA is given). `tls` turns TLS on for a plain address and
 * adds a client certificate for mutual TLS.
 */
import { credentials as grpcCredentials, type ChannelCredentials } from "@grpc/grpc-js";

/** TLS settings: PEM-encoded, as strings or buffers. */
export interface TlsOptions {
  /** The CA that signed the server's certificate; the system's roots when absent. */
  readonly ca?: string | Buffer;
  /** The client's certificate chain, for mutual TLS (with `key`). */
  readonly cert?: string | Buffer;
  /** The client's private key, for mutual TLS (with `cert`). */
  readonly key?: string | Buffer;
}

/** A resolved connection target. */
export interface ChannelTarget {
  /** What grpc-js connects to (`host:port`, or a `dns:`/`unix:` target as given). */
  readonly target: string;
  /** The channel credentials. */
  readonly credentials: ChannelCredentials;
}

function pem(value: string | Buffer | undefined): Buffer | null {
  return value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
}

/** TLS channel credentials from {@link TlsOptions}; a certificate without its key (or the reverse) is refused. */
export function tlsCredentials(tls: TlsOptions): ChannelCredentials {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("tls.cert and tls.key go together: give both for mutual TLS, or neither");
  }
  return grpcCredentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

/**
 * Resolves `address` into a target and credentials. Explicit `credentials`
 * win over everything; `tls: true` means TLS with the system's roots.
 */
export function channelTarget(address: string, tls?: TlsOptions | boolean, credentials?: ChannelCredentials): ChannelTarget {
  const match = /^(https?):\/\/([^/]+)\/?$/i.exec(address);
  const scheme = match?.[1]?.toLowerCase();
  let target = match?.[2] ?? address;
  if (scheme === "https" && !/:\d+$/.test(target)) target = `${target}:443`;
  if (scheme === "http" && tls !== undefined && tls !== false) {
    throw new TypeError(`'${address}' asks for plain HTTP/2 but tls options were given; use https://`);
  }
  if (credentials !== undefined) return { target, credentials };
  const useTls = scheme === "https" || (tls !== undefined && tls !== false);
  if (!useTls) return { target, credentials: grpcCredentials.createInsecure() };
  return { target, credentials: tlsCredentials(typeof tls === "object" ? tls : {}) };
}
