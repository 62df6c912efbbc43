/**
 * Authenticates `Authorization: Bearer <JWT>` with `jose`: the signature
 * against a JSON Web Key Set (fetched from a URL, or read from a file), then
 * issuer, audience, expiry and not-before with a clock skew allowance.
 *
 * Key rotation: a token signed with a key id the cached set does not have
 * makes the set be fetched again (at most once per `refreshMinMs`), and the
 * cached set is refreshed every `cacheMaxAgeMs` so that a retired key stops
 * working. A key set file is read again when it changes.
 */
import { readFileSync } from "node:fs";
import { Code, ProtobusError } from "@protobus/sdk";
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Logger } from "../logger.js";
import { bearerCredential, type Authenticator, type Credentials } from "./authenticator.js";
import { FileBackedValue } from "./file-backed-value.js";
import type { Principal } from "../transport/interceptor.js";
import { CredentialRejected } from "./security-errors.js";

/** Options of {@link JwtAuthenticator}; exactly one of `jwksUrl` and `jwksFile`. */
export interface JwtAuthenticatorOptions {
  /** URL of the issuer's JWKS (e.g. `https://issuer/.well-known/jwks.json`). */
  readonly jwksUrl?: string;
  /** Path of a JWKS file. */
  readonly jwksFile?: string;
  /** Required `iss`; empty accepts any. */
  readonly issuer: string;
  /** Required `aud` (one of); empty accepts any. */
  readonly audience: string;
  /** Allowed clock difference for `exp`, `nbf` and `iat`, in ms. */
  readonly clockSkewMs: number;
  /** The claim naming the principal (`sub` by default). */
  readonly principalClaim?: string;
  /** The claim listing roles: an array, or a space-separated string as OAuth's `scope` (`roles` by default). */
  readonly rolesClaim?: string;
  /** Fewest ms between two fetches of the JWKS URL (an unknown key id triggers one). */
  readonly refreshMinMs: number;
  /** A fetched key set is fetched again after this long, in ms. */
  readonly cacheMaxAgeMs: number;
  /** How often a JWKS file is checked for changes, in ms; 0 turns watching off. */
  readonly watchIntervalMs: number;
  readonly logger: Logger;
}

type KeySet = JWTVerifyGetKey;

/** Where the keys come from: a file read again when it changes, or a URL that refreshes itself. */
type KeySource = Pick<FileBackedValue<KeySet>, "current" | "reload" | "close">;

/** JWTs verified against a JWKS. */
export class JwtAuthenticator implements Authenticator {
  readonly name = "jwt";
  readonly #options: JwtAuthenticatorOptions;
  readonly #keys: KeySource;

  constructor(options: JwtAuthenticatorOptions) {
    if ((options.jwksUrl === undefined) === (options.jwksFile === undefined)) throw new RangeError("JWT authentication needs either a JWKS URL or a JWKS file");
    this.#options = options;
    if (options.jwksUrl !== undefined) {
      let url: URL;
      try {
        url = new URL(options.jwksUrl);
      } catch {
        throw new RangeError(`JWKS URL '${options.jwksUrl}' is not a URL`);
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new RangeError(`JWKS URL '${options.jwksUrl}' must be http(s)`);
      if (url.protocol === "http:" && !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
        options.logger.warn("the JWKS is fetched over plain http: anyone on the path can swap the keys", { url: options.jwksUrl });
      }
      const remote = createRemoteJWKSet(url, { cooldownDuration: options.refreshMinMs, cacheMaxAge: options.cacheMaxAgeMs });
      this.#keys = { current: remote, reload: () => true, close: () => {} };
    } else {
      const path = options.jwksFile as string;
      this.#keys = new FileBackedValue({
        paths: [path],
        watchIntervalMs: options.watchIntervalMs,
        logger: options.logger,
        read: () => createLocalJWKSet(readKeySet(path)),
        failedMessage: "JWKS file not reloaded; the previous keys stay in force",
        loadedMessage: "JWKS file loaded",
        logFields: { path },
      });
    }
  }

  /** Reads a JWKS file again (a URL refreshes itself); on failure keeps the keys in force. */
  reload(): boolean {
    return this.#keys.reload();
  }

  async authenticate(credentials: Credentials): Promise<Principal | undefined> {
    const token = bearerCredential(credentials.authorization);
    if (token === undefined || token.split(".").length !== 3) return undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys.current, {
        ...(this.#options.issuer !== "" ? { issuer: this.#options.issuer } : {}),
        ...(this.#options.audience !== "" ? { audience: this.#options.audience } : {}),
        clockTolerance: Math.round(this.#options.clockSkewMs / 1000),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
        // The key set could not be fetched: not the caller's fault, and worth retrying.
        this.#options.logger.error("cannot fetch the JWKS to verify a token", { url: this.#options.jwksUrl, error });
        throw new ProtobusError(Code.UNAVAILABLE, "credentials cannot be verified right now; retry later");
      }
      throw new CredentialRejected(`JWT refused: ${error.code}: ${error.message}`);
    }
    const principalClaim = this.#options.principalClaim ?? "sub";
    const id = payload[principalClaim];
    if (typeof id !== "string" || id === "") throw new CredentialRejected(`JWT has no '${principalClaim}' claim`);
    return { id, roles: rolesOf(payload[this.#options.rolesClaim ?? "roles"]), via: "jwt" };
  }

  close(): void {
    this.#keys.close();
  }
}

function rolesOf(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((r): r is string => typeof r === "string");
  if (typeof claim === "string") return claim.split(" ").filter((r) => r !== "");
  return [];
}

function readKeySet(path: string): JSONWebKeySet {
  const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
  if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    throw new RangeError(`${path}: expected a JSON Web Key Set ({"keys": [...]})`);
  }
  return parsed as JSONWebKeySet;
}
