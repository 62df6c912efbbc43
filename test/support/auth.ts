/**
 * Credentials for security tests: a real JWKS served over HTTP by the test
 * (keys rotate on demand), JWTs signed with `jose`, and gRPC credentials or
 * metadata carrying a bearer token.
 */
import { createServer, type Server } from "node:http";
import { credentials, Metadata, type CallCredentials, type ChannelCredentials } from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";

/** A signing key with its public JWK. */
export interface TestKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

/** Makes an ES256 key pair named `kid`. */
export async function makeKey(kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}

/** Signs a JWT with `key`. `expiresIn` is seconds from now (negative: already expired). */
export async function signJwt(key: TestKey, claims: { sub: string; roles?: string[]; iss?: string; aud?: string; expiresIn?: number }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(claims.roles !== undefined ? { roles: claims.roles } : {}) })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .setSubject(claims.sub)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (claims.expiresIn ?? 300));
  if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
  if (claims.aud !== undefined) jwt.setAudience(claims.aud);
  return jwt.sign(key.privateKey);
}

/** A JWKS endpoint on a free loopback port. */
export interface JwksServer {
  readonly url: string;
  /** Replaces the published keys. */
  publish(keys: readonly TestKey[]): void;
  /** How many times the key set was fetched. */
  readonly fetches: number;
  close(): Promise<void>;
}

/** Serves `keys` as a JWKS at `http://127.0.0.1:<port>/jwks.json`. */
export async function startJwks(keys: readonly TestKey[]): Promise<JwksServer> {
  let published = keys;
  let fetches = 0;
  const server: Server = createServer((_request, response) => {
    fetches += 1;
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    publish(next) {
      published = next;
    },
    get fetches() {
      return fetches;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Metadata with `authorization: Bearer <token>` (empty metadata without a token). */
export function bearerMetadata(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** Call credentials that send `token` as a bearer credential. */
export function bearerCallCredentials(token: string): CallCredentials {
  return credentials.createFromMetadataGenerator((_params, callback) => callback(null, bearerMetadata(token)));
}

/**
 * Channel credentials for a client: TLS with `ca` (and a client
 * certificate for mutual TLS) plus a bearer token; or, without TLS, a
 * bearer token over an insecure channel (grpc-js sends call credentials
 * only over TLS, so that case goes through per-call metadata instead).
 */
export function tlsCredentials(options: { ca: Buffer; cert?: Buffer; key?: Buffer; token?: string }): ChannelCredentials {
  const tls = credentials.createSsl(options.ca, options.key ?? null, options.cert ?? null);
  return options.token === undefined ? tls : credentials.combineChannelCredentials(tls, bearerCallCredentials(options.token));
}
