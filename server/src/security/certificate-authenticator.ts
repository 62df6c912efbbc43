/**
 * Under mutual TLS, the client certificate is the credential: the TLS
 * handshake has already verified it against `--tls-client-ca`, so the
 * principal is its subject's common name (CN) and its organizational units
 * (OU) are its roles.
 */
import type { PeerCertificate } from "node:tls";
import type { Authenticator, Credentials } from "./authenticator.js";
import type { Principal } from "../transport/interceptor.js";
import { CredentialRejected } from "./security-errors.js";

/** The principal named by a verified client certificate; undefined without one. */
export function principalOfCertificate(certificate: PeerCertificate | undefined): Principal | undefined {
  if (certificate === undefined || certificate.subject === undefined || Object.keys(certificate).length === 0) return undefined;
  const subject = certificate.subject as unknown as Record<string, string | string[] | undefined>;
  const cn = subject.CN;
  const id = Array.isArray(cn) ? cn[0] : cn;
  if (id === undefined || id === "") throw new CredentialRejected("client certificate has no subject CN");
  const ou = subject.OU;
  return { id, roles: ou === undefined ? [] : Array.isArray(ou) ? ou : [ou], via: "certificate" };
}

/** Principals from client certificate subjects. */
export class CertificateAuthenticator implements Authenticator {
  readonly name = "certificate";

  authenticate(credentials: Credentials): Promise<Principal | undefined> {
    try {
      return Promise.resolve(principalOfCertificate(credentials.peerCertificate));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }
}
