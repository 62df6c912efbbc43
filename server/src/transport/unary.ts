/**
 * The unary handler adapter shared by every service: a promise-returning
 * function becomes a grpc-js unary handler that answers every failure with
 * its status (see `status.ts`).
 */
import type { ServerUnaryCall, handleUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "../logger.js";
import { callContext } from "./call-context.js";
import { guardResponse } from "./call-control.js";
import { failureStatus } from "./status.js";

/**
 * Adapts `handle` (given the request and the call, for `callContext`) to a
 * grpc-js unary handler named `method` in logs. The answer passes the
 * call's response guard (an authorization rule that depends on it) before
 * it is sent.
 */
export function unary<Req, Res>(
  method: string,
  logger: Logger,
  handle: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handle(call.request, call)
      .then((response) => guardResponse(callContext(call), response))
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(failureStatus(error, logger, method)),
      );
  };
}
