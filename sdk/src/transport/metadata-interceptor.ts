/**
 * Headers sent with every call of a client (an API key, a tenant id, a
 * client version): one interceptor instead of metadata built at each call
 * site. A header the call already has is left as the caller set it.
 */
import { InterceptingCall, type Interceptor } from "@grpc/grpc-js";

/** Header names (lower case; `-bin` suffix for binary values) and their values. */
export type CallHeaders = Readonly<Record<string, string | Buffer | readonly (string | Buffer)[]>>;

/** A grpc-js client interceptor adding `headers` to each call's metadata. */
export function metadataInterceptor(headers: CallHeaders): Interceptor {
  const entries = Object.entries(headers).map(([key, value]) => [key.toLowerCase(), Array.isArray(value) ? value : [value]] as const);
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        for (const [key, values] of entries) {
          if (metadata.get(key).length > 0) continue;
          for (const value of values as readonly (string | Buffer)[]) metadata.add(key, value);
        }
        next(metadata, listener);
      },
    });
}
