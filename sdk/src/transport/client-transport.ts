/**
 * The call layer every SDK client shares: connection options, and the
 * client interceptor chain assembled in one place. Order, outermost first:
 * headers, bearer token, trace context, retries, then the caller's own
 * interceptors (closest to the wire, so they see every attempt).
 */
import type { ChannelCredentials, ChannelOptions, ClientOptions as GrpcClientOptions, Interceptor } from "@grpc/grpc-js";
import { channelTarget, type TlsOptions } from "./channel-credentials.js";
import { bearerTokenInterceptor, type TokenSource } from "./credentials-interceptor.js";
import { metadataInterceptor, type CallHeaders } from "./metadata-interceptor.js";
import { retryInterceptor, type RetryOptions } from "./retry-interceptor.js";
import { tracingInterceptor } from "./tracing-interceptor.js";

/** How a client reaches a server; shared by `createClient` and `createRegistryClient`. */
export interface ConnectionOptions {
  /** `host:port`, `http://host:port` or `https://host[:port]` (TLS). */
  readonly address: string;
  /** TLS: `true` for the system's roots, or a CA and, for mutual TLS, a client certificate and key. */
  readonly tls?: boolean | TlsOptions;
  /** Channel credentials, replacing what `address` and `tls` imply. */
  readonly credentials?: ChannelCredentials;
  /** Headers sent with every call. */
  readonly metadata?: CallHeaders;
  /** A bearer token sent as `authorization` with every call (a function is asked for each call). */
  readonly token?: TokenSource;
  /** Retries of idempotent unary calls (reads); `false` turns them off. */
  readonly retry?: false | RetryOptions;
  /** Further grpc-js client interceptors, run after the SDK's own. */
  readonly interceptors?: readonly Interceptor[];
  /** Extra grpc-js channel options. */
  readonly channelOptions?: ChannelOptions;
}

/** What a generated grpc-js client constructor takes. */
export interface ClientConnection {
  /** The target to connect to. */
  readonly target: string;
  /** The channel credentials. */
  readonly credentials: ChannelCredentials;
  /** Channel options with the interceptor chain. */
  readonly clientOptions: Partial<GrpcClientOptions>;
}

/** The SDK's interceptor chain for `options`, in the order described above. */
export function clientInterceptors(options: ConnectionOptions): Interceptor[] {
  const chain: Interceptor[] = [];
  if (options.metadata !== undefined) chain.push(metadataInterceptor(options.metadata));
  if (options.token !== undefined) chain.push(bearerTokenInterceptor(options.token));
  chain.push(tracingInterceptor());
  if (options.retry !== false) chain.push(retryInterceptor(options.retry));
  chain.push(...(options.interceptors ?? []));
  return chain;
}

/** Resolves connection options, with `defaults` under the caller's channel options. */
export function clientConnection(options: ConnectionOptions, defaults: ChannelOptions = {}): ClientConnection {
  const { target, credentials } = channelTarget(options.address, options.tls, options.credentials);
  return {
    target,
    credentials,
    clientOptions: { ...defaults, ...options.channelOptions, interceptors: clientInterceptors(options) },
  };
}
