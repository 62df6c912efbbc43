/**
 * Authentication, pluggable: an {@link Authenticator} turns the credentials
 * of a request (a bearer credential, a client certificate) into a
 * {@link Principal}. The same interface serves gRPC calls (the
 * `authorization` metadata and the TLS peer certificate) and HTTP requests
 * (the `Authorization` header), so every endpoint authenticates alike.
 */
import type { PeerCertificate } from "node:tls";
import type { Principal } from "../transport/interceptor.js";
import { CredentialRejected } from "./security-errors.js";

/** What a request presents. */
export interface Credentials {
  /** The `Authorization` header or `authorization` metadata, e.g. `Bearer pbt_...`. */
  readonly authorization?: string | undefined;
  /** The verified client certificate under mutual TLS. */
  readonly peerCertificate?: PeerCertificate | undefined;
}

/**
 * Establishes who is calling.
 *
 * `authenticate` resolves to the principal when the credentials are this
 * authenticator's and valid; to `undefined` when they are not its kind (a JWT
 * shown to the token authenticator, no credential at all), so that the next
 * one may try; and rejects with {@link CredentialRejected} when they are its
 * kind but invalid (unknown, expired, badly signed, revoked).
 */
export interface Authenticator {
  /** A short name for logs: `token`, `jwt`, `certificate`. */
  readonly name: string;
  authenticate(credentials: Credentials): Promise<Principal | undefined>;
  /** Stops watching files and key sets. */
  close?(): void;
}

/** The credential of an `Authorization: Bearer <credential>` value, or undefined. */
export function bearerCredential(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer[ \t]+([^\s]+)\s*$/i.exec(authorization);
  return match?.[1];
}

/**
 * Asks each authenticator in turn; the first that recognizes the credentials
 * decides. A bearer credential takes precedence over a client certificate,
 * in the order given. A bearer credential no authenticator recognizes is
 * rejected rather than ignored.
 */
export function chainAuthenticators(authenticators: readonly Authenticator[]): Authenticator {
  return {
    name: authenticators.map((a) => a.name).join("+"),
    async authenticate(credentials) {
      for (const authenticator of authenticators) {
        const principal = await authenticator.authenticate(credentials);
        if (principal !== undefined) return principal;
      }
      if (credentials.authorization !== undefined) throw new CredentialRejected("no authenticator accepts this kind of credential");
      return undefined;
    },
    close() {
      for (const authenticator of authenticators) authenticator.close?.();
    },
  };
}
