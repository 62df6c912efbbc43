/**
 * A grpc-js client built from the .proto files alone (with
 * @grpc/proto-loader), sharing no code with the SDK: what an outside team
 * would write.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { REPO_ROOT } from "./test-server.js";

/** Loads a service constructor from the repository's proto/ tree. */
export function loadPlainService(file: string, service: string): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(file, {
    includeDirs: [join(REPO_ROOT, "proto")],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition);
  let node: unknown = loaded;
  for (const part of service.split(".")) node = (node as Record<string, unknown>)[part];
  return node as grpc.ServiceClientConstructor;
}

/** A plain EventBus client. */
export function plainEventBus(address: string): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
  const EventBus = loadPlainService("protobus/v1/bus.proto", "protobus.v1.EventBus");
  return new EventBus(address, grpc.credentials.createInsecure()) as unknown as grpc.Client &
    Record<string, (...args: unknown[]) => unknown>;
}

/** Calls a unary method of a plain client. */
export function plainUnary<T>(client: Record<string, (...args: unknown[]) => unknown>, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]?.(request, (error: grpc.ServiceError | null, response: T) => (error ? reject(error) : resolve(response)));
  });
}
