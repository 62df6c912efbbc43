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
import { FileBackedValue } from "./file-backed-value.js";

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

/** Whether two loads read the same certificate, key and client CA. */
function samePair(a: Loaded, b: Loaded): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca?.equals(b.ca ?? Buffer.alloc(0)) ?? b.ca === undefined);
}

/**
 * The server's certificates, watched. It is a grpc-js certificate provider
 * (identity and client CA) and tells other TLS servers (metrics) about new
 * contexts through `onChange`.
 */
export class TlsCertificates implements CertificateProvider {
  readonly #files: TlsFiles;
  readonly #loaded: FileBackedValue<Loaded>;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #changeListeners = new Set<(options: SecureContextOptions) => void>();

  /** Reads the files; throws when they are missing, malformed or do not match. */
  constructor(files: TlsFiles, options: { readonly logger: Logger; readonly watchIntervalMs: number }) {
    this.#files = files;
    try {
      this.#loaded = new FileBackedValue({
        paths: [files.cert, files.key, ...(files.clientCa !== undefined ? [files.clientCa] : [])],
        watchIntervalMs: options.watchIntervalMs,
        logger: options.logger,
        read: () => load(files),
        differs: (previous, next) => !samePair(previous, next),
        failedMessage: "TLS certificates not reloaded; the current ones stay in use",
        loadedMessage: "TLS certificates reloaded",
        logFields: { cert: files.cert },
        loadedFields: (loaded) => ({ validTo: loaded.validTo }),
      });
    } catch (error) {
      throw new RangeError(`TLS: cannot use --tls-cert ${files.cert} / --tls-key ${files.key}${files.clientCa !== undefined ? ` / --tls-client-ca ${files.clientCa}` : ""}: ${(error as Error).message}`, { cause: error });
    }
    this.#loaded.onChange(() => this.#emit());
  }

  /** Whether client certificates are required (mutual TLS). */
  get mutual(): boolean {
    return this.#files.clientCa !== undefined;
  }

  /** Options for `tls.createSecureContext` / an https server. */
  secureContextOptions(): SecureContextOptions {
    const { cert, key, ca } = this.#loaded.current;
    return { cert, key, ...(ca !== undefined ? { ca } : {}) };
  }

  /** Tells `listener` about every new certificate pair; returns a function that stops it. */
  onChange(listener: (options: SecureContextOptions) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Reads the files again; a bad set is logged and the current one stays. Resolves whether it changed. */
  reload(): boolean {
    return this.#loaded.reload();
  }

  #emit(): void {
    const { cert, key, ca } = this.#loaded.current;
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
    if (this.#loaded.current.ca !== undefined) listener({ caCertificate: this.#loaded.current.ca });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    listener({ certificate: this.#loaded.current.cert, privateKey: this.#loaded.current.key });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }

  /** Stops watching the files. */
  close(): void {
    this.#loaded.close();
  }
}
