/**
 * Unary calls of the console's JSON API: the body is the request message in
 * the canonical Protobuf JSON mapping, encoded with the contract's own
 * descriptor, forwarded to the server's gRPC listener, and the answer decoded
 * back to JSON. Errors use the Connect protocol's shape (see
 * connect-error.ts). A request is a POST with `Content-Type:
 * application/json`, which a page of another origin cannot send without a
 * CORS preflight that this server never grants.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { fromBinary, fromJson, toBinary, toJson, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { status as GrpcStatus, type Metadata } from "@grpc/grpc-js";
import type { ContractRoute } from "./contract-routes.js";
import { connectErrorBody, httpStatusOf } from "./connect-error.js";
import { forwardedMetadata, type GrpcForwarder } from "./grpc-forwarder.js";
import { BodyTooLargeError, header, readBody, sendJson } from "./http-io.js";

/** What a unary call needs besides the request. */
export interface UnaryContext {
  readonly registry: Registry;
  readonly forwarder: GrpcForwarder;
  /** Largest accepted request body, in bytes. */
  readonly maxBodyBytes: number;
}

/** Answers with a Connect error of a gRPC code, with the `google.rpc` details in `metadata` when given. */
export function sendError(response: ServerResponse, registry: Registry, code: number, message: string, metadata?: Metadata): void {
  sendJson(response, httpStatusOf(code), connectErrorBody(registry, code, message, metadata));
}

/** Handles one unary call of `route`. */
export async function handleUnary(request: IncomingMessage, response: ServerResponse, route: ContractRoute, context: UnaryContext): Promise<void> {
  const { registry } = context;
  if (request.method !== "POST") {
    response.setHeader("allow", "POST");
    sendError(response, registry, GrpcStatus.UNIMPLEMENTED, `${route.name} takes POST with a JSON body`);
    return;
  }
  const contentType = (header(request, "content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (contentType !== "application/json") {
    sendError(response, registry, GrpcStatus.INVALID_ARGUMENT, "the request body must be Content-Type: application/json");
    return;
  }
  let body: Buffer;
  try {
    body = await readBody(request, context.maxBodyBytes);
  } catch (error) {
    const code = error instanceof BodyTooLargeError ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.INVALID_ARGUMENT;
    sendError(response, registry, code, (error as Error).message);
    return;
  }
  let encoded: Buffer;
  try {
    const json = (body.length === 0 ? {} : JSON.parse(body.toString("utf8"))) as JsonValue;
    encoded = Buffer.from(toBinary(route.input, fromJson(route.input, json, { registry })));
  } catch (error) {
    sendError(response, registry, GrpcStatus.INVALID_ARGUMENT, `the body is not a ${route.input.typeName} in JSON: ${(error as Error).message}`);
    return;
  }
  const result = await context.forwarder.unary(route.grpcPath, encoded, forwardedMetadata(header(request, "authorization")));
  if (!result.ok) {
    const { error } = result;
    sendJson(response, httpStatusOf(error.code), connectErrorBody(registry, error.code, error.details, error.metadata));
    return;
  }
  try {
    sendJson(response, 200, toJson(route.output, fromBinary(route.output, result.body), { registry }));
  } catch (error) {
    sendError(response, registry, GrpcStatus.INTERNAL, `cannot convert the ${route.output.typeName} answer to JSON: ${(error as Error).message}`);
  }
}
