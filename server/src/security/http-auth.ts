/**
 * Authentication of HTTP requests (the metrics endpoint, a web console):
 * the same authenticators as gRPC calls, fed from the `Authorization`
 * header and the TLS client certificate.
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Authenticator, Credentials } from "./authenticator.js";
import type { Principal } from "../transport/interceptor.js";
import { CredentialRejected } from "./security-errors.js";

/** The credentials an HTTP request presents. */
export function httpCredentials(request: IncomingMessage): Credentials {
  const socket = request.socket as Partial<TLSSocket>;
  const certificate = typeof socket.getPeerCertificate === "function" && socket.authorized === true ? socket.getPeerCertificate() : undefined;
  return {
    ...(request.headers.authorization !== undefined ? { authorization: request.headers.authorization } : {}),
    ...(certificate !== undefined && Object.keys(certificate).length > 0 ? { peerCertificate: certificate } : {}),
  };
}

/**
 * The principal of an HTTP request, or why there is none: `missing` (no
 * credential) or `rejected` (a credential that does not check out; the
 * reason is for the log only). Other failures (a JWKS that cannot be
 * fetched) reject.
 */
export async function authenticateHttp(authenticator: Authenticator, request: IncomingMessage): Promise<Principal | { refused: "missing" | "rejected"; reason: string }> {
  try {
    const principal = await authenticator.authenticate(httpCredentials(request));
    return principal ?? { refused: "missing", reason: "no credentials" };
  } catch (error) {
    if (error instanceof CredentialRejected) return { refused: "rejected", reason: error.message };
    throw error;
  }
}
