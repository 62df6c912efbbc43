/**
 * The unary handler adapter shared by every service: a promise-returning
 * function becomes a grpc-js unary handler that answers every failure with
 * its status (see `status.ts`).
 */
import type { ServerUnaryCall, handleUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "../logger.js";
import { failureStatus } from "./status.js";

/**
 * Adapts `handle` (given the request and the call, for `callContext`) to a
 * grpc-js unary handler named `method` in logs.
 */
export function unary<Req, Res>(
  method: string,
  logger: Logger,
  handle: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handle(call.request, call).then(
      (response) => callback(null, response),
      (error: unknown) => callback(failureStatus(error, logger, method)),
    );
  };
}
