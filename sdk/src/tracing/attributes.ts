/**
 * OpenTelemetry messaging semantic-convention attribute names used by
 * protobus spans, and the values that do not change.
 */

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
