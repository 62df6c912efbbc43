/**
 * The services the server hosts, registered in one place, each with a
 * typed implementation: a generated `...Server` interface names every RPC
 * of its .proto, so a new RPC without a handler does not compile.
 */
import type { Server, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import {
  HealthService,
  SchemaRegistryService,
  ServerReflectionService,
  ServerReflectionServiceV1Alpha,
  type EventBusServer,
  type HealthServer,
  type SchemaRegistryServer,
  type ServerReflectionServer,
} from "@protobus/sdk/proto";
import { eventBusServiceDefinition } from "./event-bus-definition.js";
import { guardService, type RequestCap } from "./request-guard.js";

/** The fully qualified names of the services the server hosts. */
export const SERVED_SERVICES = [
  "protobus.v1.EventBus",
  "protobus.v1.SchemaRegistry",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
] as const;

/** One typed implementation per hosted service. */
export interface ServiceImplementations {
  /** `protobus.v1.EventBus`. */
  readonly eventBus: EventBusServer;
  /** `protobus.v1.SchemaRegistry`. */
  readonly schemaRegistry: SchemaRegistryServer;
  /** `grpc.health.v1.Health`. */
  readonly health: HealthServer;
  /** `grpc.reflection.v1.ServerReflection` and its v1alpha twin (same messages). */
  readonly reflection: ServerReflectionServer;
}

/** Size caps on encoded requests, by service and method name (`registerSchema`); see request-guard.ts. */
export interface RequestCaps {
  readonly schemaRegistry?: Readonly<Record<string, RequestCap>>;
}

// Every service sits behind the request guard: a request that does not decode is
// INVALID_ARGUMENT, one over its method's cap a limit error, before any handler runs.
// PublishStream fails a refused batch in its order, after answering the batches before it.
function add<S extends UntypedServiceImplementation>(
  server: Server,
  definition: unknown,
  implementation: S,
  caps?: Readonly<Record<string, RequestCap>>,
  inOrder?: readonly string[],
): void {
  const guarded = guardService(definition as ServiceDefinition, implementation, caps, inOrder);
  server.addService(guarded.definition, guarded.implementation);
}

/** The definitions of {@link SERVED_SERVICES}, in the same order (for a server that answers every call alike). */
export const SERVED_DEFINITIONS: readonly ServiceDefinition[] = [
  eventBusServiceDefinition as ServiceDefinition,
  SchemaRegistryService as unknown as ServiceDefinition,
  HealthService as unknown as ServiceDefinition,
  ServerReflectionService as unknown as ServiceDefinition,
  ServerReflectionServiceV1Alpha as unknown as ServiceDefinition,
];

/** Registers every service of {@link SERVED_SERVICES} on `server`. */
export function registerServices(server: Server, services: ServiceImplementations, caps: RequestCaps = {}): void {
  add(server, eventBusServiceDefinition, services.eventBus, {}, ["publishStream"]);
  add(server, SchemaRegistryService, services.schemaRegistry, caps.schemaRegistry);
  add(server, HealthService, services.health);
  add(server, ServerReflectionService, services.reflection);
  add(server, ServerReflectionServiceV1Alpha, services.reflection);
}
