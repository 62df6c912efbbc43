/**
 * Unary gRPC calls as promises that reject with a ProtobusError, for the
 * clients of this package.
 */
import { Metadata, type CallOptions } from "@grpc/grpc-js";
import { Code, ProtobusError } from "./protobus-error.js";

/**
 * The callback form of a grpc-js unary call, given fresh request metadata
 * (headers come from the client's interceptors), the call options (the
 * deadline) and its callback.
 */
export type UnaryInvoke<Res> = (metadata: Metadata, options: CallOptions, callback: (error: unknown, response: Res) => void) => void;

/** The error of any call made after a client's `close()`: `CANCELLED`. */
export function clientClosedError(): ProtobusError {
  return new ProtobusError(Code.CANCELLED, "the client is closed; create a new client to make further calls");
}

/**
 * Returns a function that runs a unary call with a deadline of `timeoutMs`
 * and resolves to its response.
 * Every failure is a ProtobusError: a status from the server keeps its code
 * and details, and a call made once `isClosed()` holds rejects with
 * `CANCELLED` instead of grpc-js's plain "Channel has been shut down".
 */
export function createUnaryCaller(isClosed: () => boolean, timeoutMs: number): <Res>(invoke: UnaryInvoke<Res>) => Promise<Res> {
  return <Res>(invoke: UnaryInvoke<Res>) =>
    new Promise<Res>((resolve, reject) => {
      if (isClosed()) {
        reject(clientClosedError());
        return;
      }
      try {
        const options = { deadline: new Date(Date.now() + timeoutMs) };
        invoke(new Metadata(), options, (error, response) => (error === null || error === undefined ? resolve(response) : reject(ProtobusError.from(error))));
      } catch (error) {
        // grpc-js throws synchronously when its channel is gone.
        reject(ProtobusError.from(error, isClosed() ? Code.CANCELLED : Code.UNKNOWN));
      }
    });
}
