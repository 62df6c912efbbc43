/**
 * The console's JSON API routes, read from the contract itself: one route per
 * unary RPC of the EventBus and SchemaRegistry services, named after it
 * (`/api/protobus.v1.EventBus/QueryEvents`), with the request and response
 * message descriptors that convert its JSON (the canonical Protobuf JSON
 * mapping) to and from the wire. Nothing about a message is written by hand
 * here: a new RPC in proto/ is a new route.
 */
import { createFileRegistry, fromBinary, type DescMessage, type DescMethod, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { loadBundledDescriptorSet } from "../transport/reflection.js";

/** The prefix of every JSON API route. */
export const API_PREFIX = "/api/";

/** The services whose unary RPCs the console exposes. */
export const CONSOLE_SERVICES = ["protobus.v1.EventBus", "protobus.v1.SchemaRegistry"] as const;

/** One unary RPC reachable through the console. */
export interface ContractRoute {
  /** `protobus.v1.EventBus/QueryEvents`: the route after {@link API_PREFIX}. */
  readonly name: string;
  /** The gRPC path it forwards to: `/protobus.v1.EventBus/QueryEvents`. */
  readonly grpcPath: string;
  readonly method: DescMethod;
  readonly input: DescMessage;
  readonly output: DescMessage;
}

/** The contract's routes and the registry that reads its messages (and the `Any` details of errors). */
export interface ContractRoutes {
  readonly registry: Registry;
  /** Unary routes by name. */
  readonly unary: ReadonlyMap<string, ContractRoute>;
  /** The Subscribe stream, served as Server-Sent Events. */
  readonly subscribe: ContractRoute;
}

/** Builds the routes from the descriptor set that ships with the SDK. */
export function loadContractRoutes(): ContractRoutes {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, loadBundledDescriptorSet()));
  const unary = new Map<string, ContractRoute>();
  let subscribe: ContractRoute | undefined;
  for (const serviceName of CONSOLE_SERVICES) {
    const service = registry.getService(serviceName);
    if (service === undefined) throw new Error(`the bundled descriptor set lacks ${serviceName}`);
    for (const method of service.methods) {
      const route: ContractRoute = {
        name: `${service.typeName}/${method.name}`,
        grpcPath: `/${service.typeName}/${method.name}`,
        method,
        input: method.input,
        output: method.output,
      };
      if (method.methodKind === "unary") unary.set(route.name, route);
      else if (service.typeName === "protobus.v1.EventBus" && method.name === "Subscribe") subscribe = route;
    }
  }
  if (subscribe === undefined) throw new Error("the bundled descriptor set lacks protobus.v1.EventBus/Subscribe");
  return { registry, unary, subscribe };
}
