/**
 * The protobus wire contract as generated TypeScript (ts-proto for
 * @grpc/grpc-js): the Event envelope, the EventBus and SchemaRegistry
 * services and their messages.
 * Use these to talk to a server without the higher-level client, or to build
 * a server of your own.
 */
export { Event } from "./gen/protobus/v1/event.pb.js";
export {
  Ack,
  BusInfo,
  ConsumerOutcome,
  Credit,
  Delivery,
  EventBusClient,
  EventBusService,
  Flow,
  FlowNode,
  GetEventRequest,
  GetFlowRequest,
  Heartbeat,
  Nack,
  OpenSubscription,
  Opened,
  OutcomeState,
  PublishRequest,
  PublishResponse,
  PublishResult,
  QueryEventsRequest,
  QueryEventsResponse,
  StartPosition,
  SubscribeRequest,
  SubscribeResponse,
} from "./gen/protobus/v1/bus.pb.js";
export type { EventBusServer } from "./gen/protobus/v1/bus.pb.js";
// Consumer groups and dead letters.
export {
  AckConfirmation,
  DeadLetter,
  DeleteGroupRequest,
  DeliveryStats,
  GetDeliveryStatsRequest,
  GetGroupRequest,
  GroupInfo,
  GroupSettings,
  ListDeadLettersRequest,
  ListDeadLettersResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  ModifyDeadline,
  PurgeDeadLettersRequest,
  PurgeDeadLettersResponse,
  RedriveDeadLettersRequest,
  RedriveDeadLettersResponse,
  TypeStats,
} from "./gen/protobus/v1/bus.pb.js";
export {
  CheckCompatibilityRequest,
  CheckCompatibilityResponse,
  Compatibility,
  CompatibilitySetting,
  CompatibilityViolation,
  DeleteSchemaVersionRequest,
  Format,
  GetCompatibilityRequest,
  GetSchemaRequest,
  ListSchemasRequest,
  ListSchemasResponse,
  ListVersionsRequest,
  ListVersionsResponse,
  ProtobufDefinition,
  RegisterSchemaRequest,
  RegisterSchemaResponse,
  Schema,
  SchemaRegistryClient,
  SchemaRegistryService,
  SetCompatibilityRequest,
} from "./gen/protobus/v1/registry.pb.js";
export type { SchemaRegistryServer } from "./gen/protobus/v1/registry.pb.js";
export { Empty } from "./gen/google/protobuf/empty.pb.js";
export { Duration } from "./gen/google/protobuf/duration.pb.js";
export { Timestamp } from "./gen/google/protobuf/timestamp.pb.js";
export {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  HealthListRequest,
  HealthListResponse,
  HealthService,
} from "./gen/grpc/health/v1/health.pb.js";
export type { HealthServer } from "./gen/grpc/health/v1/health.pb.js";
export {
  ServerReflectionRequest,
  ServerReflectionResponse,
  ServerReflectionService,
} from "./gen/grpc/reflection/v1/reflection.pb.js";
export type { ServerReflectionServer } from "./gen/grpc/reflection/v1/reflection.pb.js";
export {
  ServerReflectionRequest as ServerReflectionRequestV1Alpha,
  ServerReflectionResponse as ServerReflectionResponseV1Alpha,
  ServerReflectionService as ServerReflectionServiceV1Alpha,
} from "./gen/grpc/reflection/v1alpha/reflection.pb.js";
export {
  BadRequest,
  BadRequest_FieldViolation,
  ErrorInfo,
  PreconditionFailure,
  PreconditionFailure_Violation,
  QuotaFailure,
  QuotaFailure_Violation,
} from "./gen/google/rpc/error_details.pb.js";
export { Status } from "./gen/google/rpc/status.pb.js";
export {
  CircuitBreakerCallFailed,
  CircuitBreakerCallRejected,
  CircuitBreakerState,
  CircuitBreakerStateChanged,
} from "./gen/protobus/v1/circuit_breaker.pb.js";
