/**
 * @protobus/sdk: the typed client of protobus.
 *
 * `createClient` connects to a server; `publish`, `subscribe` and `query` are
 * its verbs; every failure is a `ProtobusError` with the gRPC code and the
 * `google.rpc` details the server sent. The wire contract itself is in
 * `@protobus/sdk/proto`.
 */
export { createClient } from "./client.js";
export type {
  ClientOptions,
  DeadLetterOptions,
  DeadLetterPage,
  DeadLetterTarget,
  HandlerOptions,
  ProtobusClient,
  QueryOptions,
  QueryPage,
} from "./client.js";
export { Code, ProtobusError, codeName } from "./protobus-error.js";
export type { ErrorDetail } from "./status-details.js";
export { eventJson, toEnvelope } from "./event-input.js";
export type { EventInput } from "./event-input.js";
export { Subscription } from "./subscription.js";
export type { EventHandler, ReceivedEvent, StartFrom, SubscribeOptions } from "./subscription.js";
export { currentHandledEvent } from "./tracing/handler-context.js";
export type { HandledEvent } from "./tracing/handler-context.js";
export type { ConsumerSpanRelation } from "./tracing/consumer.js";
export { isValidEventType, matchesPattern, patternError } from "./pattern.js";
export type { Event } from "./gen/protobus/v1/event.pb.js";
export { COMPATIBILITY_MODES, createRegistryClient } from "./registry-client.js";
export type {
  CompatibilityMode,
  CompatibilityReport,
  CompatibilitySettingInfo,
  RegisteredSchema,
  RegistryClient,
  RegistryClientOptions,
  SchemaDefinition,
  SchemaViolation,
} from "./registry-client.js";
export type {
  BusInfo,
  ConsumerOutcome,
  DeadLetter,
  DeliveryStats,
  Flow,
  FlowNode,
  GroupInfo,
  GroupSettings,
  PublishResult,
  TypeStats,
} from "./gen/protobus/v1/bus.pb.js";
export { OutcomeState } from "./gen/protobus/v1/bus.pb.js";
