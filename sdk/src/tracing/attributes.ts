/**
 * OpenTelemetry messaging semantic-convention attribute names used by
 * protobus spans, the values that do not change, and the attributes of one
 * event that every span of it carries.
 */
import type { Attributes } from "@opentelemetry/api";

/** `messaging.system` of every protobus span. */
export const MESSAGING_SYSTEM = "protobus";

/** Attribute names (OpenTelemetry messaging semantic conventions). */
export const Attr = {
  system: "messaging.system",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  destinationName: "messaging.destination.name",
  messageId: "messaging.message.id",
  conversationId: "messaging.message.conversation_id",
  consumerGroup: "messaging.consumer.group.name",
  bodySize: "messaging.message.body.size",
  batchCount: "messaging.batch.message_count",
  /** The delivery attempt, 1 on first delivery (protobus-specific). */
  deliveryAttempt: "messaging.protobus.message.delivery_attempt",
  /** The causation id (protobus-specific). */
  causationId: "messaging.protobus.message.causation_id",
  /** The server-assigned sequence (protobus-specific). */
  sequence: "messaging.protobus.message.sequence",
  /** The subscription id (protobus-specific). */
  subscriptionId: "messaging.protobus.subscription.id",
} as const;

/** The fields of an event its spans describe. */
export interface MessageFields {
  readonly type: string;
  readonly id: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly data: Uint8Array;
}

/**
 * The attributes every span of one event carries, whoever records it (the
 * producer, the server, the consumer): the messaging system, the operation,
 * the body size and the event's type and ids; `batchCount` is added for a
 * batch of more than one. Fields the event lacks are left out rather than
 * sent empty.
 */
export function messageAttributes(event: MessageFields, operation: { readonly type: string; readonly name: string }, batchCount = 1): Attributes {
  const attributes: Attributes = {
    [Attr.system]: MESSAGING_SYSTEM,
    [Attr.operationType]: operation.type,
    [Attr.operationName]: operation.name,
    [Attr.bodySize]: event.data.byteLength,
  };
  if (event.type !== "") attributes[Attr.destinationName] = event.type;
  if (event.id !== "") attributes[Attr.messageId] = event.id;
  if (event.correlationId !== "") attributes[Attr.conversationId] = event.correlationId;
  if (event.causationId !== "") attributes[Attr.causationId] = event.causationId;
  if (batchCount > 1) attributes[Attr.batchCount] = batchCount;
  return attributes;
}

/**
 * The attributes of a span about several events (a batch send, a server
 * publish span shared by a call's events): the messaging system, the
 * operation and `batchCount`, and the type and correlation id when every
 * one of `events` shares them. Ids stay off: they belong to spans of one
 * event.
 */
export function batchAttributes(events: readonly MessageFields[], operation: { readonly type: string; readonly name: string }, batchCount: number): Attributes {
  const attributes: Attributes = {
    [Attr.system]: MESSAGING_SYSTEM,
    [Attr.operationType]: operation.type,
    [Attr.operationName]: operation.name,
    [Attr.batchCount]: batchCount,
  };
  const first = events[0];
  if (first === undefined) return attributes;
  // One pass for both: this runs for every traced publish call, on both sides.
  let type = first.type;
  let correlationId = first.correlationId;
  for (const event of events) {
    if (type !== "" && event.type !== type) type = "";
    if (correlationId !== "" && event.correlationId !== correlationId) correlationId = "";
    if (type === "" && correlationId === "") break;
  }
  if (type !== "") attributes[Attr.destinationName] = type;
  if (correlationId !== "") attributes[Attr.conversationId] = correlationId;
  return attributes;
}
