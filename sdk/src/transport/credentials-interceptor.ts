/**
 * Per-call credentials: a bearer token in the `authorization` header of
 * every call, read from a string or from a function (called for each call,
 * so it may refresh an expiring token). Unlike grpc-js call credentials it
 * also works on an insecure channel, for a server behind a TLS-terminating
 * proxy or on loopback.
 */
import { InterceptingCall, Metadata, status, type Interceptor } from "@grpc/grpc-js";

/** A token, or a function giving the current one. */
export type TokenSource = string | (() => string | Promise<string>);

/** A grpc-js client interceptor sending `authorization: Bearer <token>` with each call. */
export function bearerTokenInterceptor(token: TokenSource): Interceptor {
  return (options, nextCall) => {
    const call = nextCall(options);
    return new InterceptingCall(call, {
      start(metadata, listener, next) {
        Promise.resolve()
          .then(() => (typeof token === "string" ? token : token()))
          .then(
            (value) => {
              if (value !== "") metadata.set("authorization", `Bearer ${value}`);
              next(metadata, listener);
            },
            (error: unknown) => {
              // The call never goes out: it ends here, without a token sent.
              const details = `the token provider failed: ${error instanceof Error ? error.message : String(error)}`;
              call.cancelWithStatus(status.CANCELLED, details);
              listener.onReceiveStatus?.({ code: status.UNAUTHENTICATED, details, metadata: new Metadata() });
            },
          );
      },
    });
  };
}
