/**
 * Throwaway certificates for TLS tests, made with `openssl`: a CA, a server
 * certificate for localhost/127.0.0.1 signed by it, and client certificates
 * (CN = principal, OU = roles) for mutual TLS. Keys are P-256.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A certificate and its key, as files and contents. */
export interface CertPair {
  readonly cert: string;
  readonly key: string;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function pair(dir: string, name: string): CertPair {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  return { cert, key, certPem: readFileSync(cert), keyPem: readFileSync(key) };
}

/** Makes a self-signed CA named `name` in `dir`. */
export function makeCa(dir: string, name: string): CertPair {
  openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`],
    dir,
  );
  return pair(dir, name);
}

/** Makes a certificate signed by `ca`: a server one (localhost, 127.0.0.1) or a client one. */
export function makeCert(dir: string, ca: CertPair, name: string, options: { subject: string; server?: boolean }): CertPair {
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", options.subject], dir);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    options.server === true
      ? "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
      : "extendedKeyUsage=clientAuth\n",
  );
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", ext], dir);
  return pair(dir, name);
}

/** A CA with a server certificate, ready for `--tls-cert`/`--tls-key`/`--tls-ca`. */
export function makeServerPki(dir: string, caName = "test-ca"): { ca: CertPair; server: CertPair } {
  const ca = makeCa(dir, caName);
  return { ca, server: makeCert(dir, ca, `${caName}-server`, { subject: "/CN=localhost", server: true }) };
}
