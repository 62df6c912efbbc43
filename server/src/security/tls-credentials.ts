/**
 * TLS for the gRPC listener and the metrics endpoint, with certificates that
 * can be replaced while the server runs: the files are read again when they
 * change and on `reload()` (SIGHUP). A new pair is checked (it parses, the
 * key matches the certificate) before it replaces the old one, so a
 * half-written or mismatched file never takes the listener down; new
 * connections get the new certificate, open ones keep theirs.
 */
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { X509Certificate } from "node:crypto";
import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "../logger.js";
import { watchFiles } from "./file-watch.js";

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** The files of the server's TLS identity. */
export interface TlsFiles {
  /** PEM certificate chain of the server. */
  readonly cert: string;
  /** PEM private key of the certificate. */
  readonly key: string;
  /** PEM CA bundle client certificates must chain to; set for mutual TLS. */
  readonly clientCa?: string | undefined;
}

interface Loaded {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
  /** When the server certificate stops being valid. */
  readonly validTo: string;
}

function load(files: TlsFiles): Loaded {
  const cert = readFileSync(files.cert);
  const key = readFileSync(files.key);
  const ca = files.clientCa === undefined ? undefined : readFileSync(files.clientCa);
  // Throws when a file does not parse or the key does not match the certificate.
  createSecureContext({ cert, key, ...(ca !== undefined ? { ca } : {}) });
  return { cert, key, ca, validTo: new X509Certificate(cert).validTo };
}

/**
 * The server's certificates, watched. It is a grpc-js certificate provider
 * (identity and client CA) and tells other TLS servers (metrics) about new
 * contexts through `onChange`.
 */
export class TlsCertificates implements CertificateProvider {
  readonly #files: TlsFiles;
  readonly #logger: Logger;
  #current: Loaded;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #changeListeners = new Set<(options: SecureContextOptions) => void>();
  readonly #stopWatching: () => void;

  /** Reads the files; throws when they are missing, malformed or do not match. */
  constructor(files: TlsFiles, options: { readonly logger: Logger; readonly watchIntervalMs: number }) {
    this.#files = files;
    this.#logger = options.logger;
    try {
      this.#current = load(files);
    } catch (error) {
      throw new RangeError(`TLS: cannot use --tls-cert ${files.cert} / --tls-key ${files.key}${files.clientCa !== undefined ? ` / --tls-client-ca ${files.clientCa}` : ""}: ${(error as Error).message}`, { cause: error });
    }
    const paths = [files.cert, files.key, ...(files.clientCa !== undefined ? [files.clientCa] : [])];
    this.#stopWatching = options.watchIntervalMs > 0 ? watchFiles(paths, options.watchIntervalMs, () => this.reload()) : () => {};
  }

  /** Whether client certificates are required (mutual TLS). */
  get mutual(): boolean {
    return this.#files.clientCa !== undefined;
  }

  /** Options for `tls.createSecureContext` / an https server. */
  secureContextOptions(): SecureContextOptions {
    const { cert, key, ca } = this.#current;
    return { cert, key, ...(ca !== undefined ? { ca } : {}) };
  }

  /** Tells `listener` about every new certificate pair; returns a function that stops it. */
  onChange(listener: (options: SecureContextOptions) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Reads the files again; a bad set is logged and the current one stays. Resolves whether it changed. */
  reload(): boolean {
    let next: Loaded;
    try {
      next = load(this.#files);
    } catch (error) {
      this.#logger.error("TLS certificates not reloaded; the current ones stay in use", { cert: this.#files.cert, error });
      return false;
    }
    const previous = this.#current;
    if (previous.cert.equals(next.cert) && previous.key.equals(next.key) && (previous.ca?.equals(next.ca ?? Buffer.alloc(0)) ?? next.ca === undefined)) {
      return false;
    }
    this.#current = next;
    this.#logger.info("TLS certificates reloaded", { cert: this.#files.cert, validTo: next.validTo });
    this.#emit();
    return true;
  }

  #emit(): void {
    const { cert, key, ca } = this.#current;
    for (const listener of this.#identityListeners) listener({ certificate: cert, privateKey: key });
    if (ca !== undefined) for (const listener of this.#caListeners) listener({ caCertificate: ca });
    for (const listener of this.#changeListeners) listener(this.secureContextOptions());
  }

  /** grpc-js server credentials that follow the files. */
  serverCredentials(): ServerCredentials {
    // grpc-js takes the identity provider first; the same object provides the client CA for mutual TLS.
    const credentials = experimental.createCertificateProviderServerCredentials(this, this.mutual ? this : null, this.mutual);
    // A first watcher attaches this provider now, so that the credentials hold a context before any
    // listener is created (grpc-js reads it when it creates one and only hears of later updates).
    credentials._addWatcher(() => {});
    return credentials;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    if (this.#current.ca !== undefined) listener({ caCertificate: this.#current.ca });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    listener({ certificate: this.#current.cert, privateKey: this.#current.key });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }

  /** Stops watching the files. */
  close(): void {
    this.#stopWatching();
  }
}
