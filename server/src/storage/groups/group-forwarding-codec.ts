/**
 * Conversions between the group engine's values and the forwarding messages
 * of proto/protobus/cluster/v1/group_forwarding.proto: stored events (their
 * encoded envelope travels as it is), deliveries, dead letters, settings,
 * stats, selections, and failures (a gRPC code and message).
 */
import { Code, ProtobusError } from "@protobus/sdk";
import type {
  ForwardReply,
  ForwardedDeadLetter,
  ForwardedDelivery,
  ForwardedEvent,
  ForwardedGroupSettings,
  ForwardedGroupStats,
} from "@protobus/sdk/internal";
import type { DeadLetter, DeadLetterSelection, GroupDelivery, GroupSettings, GroupStats } from "../group-store.js";
import { countersFromWire, countersToWire } from "../group-stat-counters.js";
import { StoredEvent } from "../stored-event.js";

/** A stored event for the wire. */
export function eventToWire(stored: StoredEvent): ForwardedEvent {
  return { sequence: stored.sequence, type: stored.type, envelope: Buffer.from(stored.bytes.buffer, stored.bytes.byteOffset, stored.bytes.byteLength), expireAtMs: BigInt(stored.expireAtMs) };
}

/** A stored event from the wire. */
export function eventFromWire(wire: ForwardedEvent | undefined): StoredEvent {
  if (wire === undefined) throw new ProtobusError(Code.INTERNAL, "a forwarded delivery without its event");
  // A copy: the decoded bytes are a view of the whole message.
  return new StoredEvent(wire.sequence, wire.type, new Uint8Array(wire.envelope), Number(wire.expireAtMs));
}

/** A delivery for the wire. */
export function deliveryToWire(delivery: GroupDelivery): ForwardedDelivery {
  return { event: eventToWire(delivery.stored), deliveryId: delivery.deliveryId, attempt: delivery.attempt };
}

/** A delivery from the wire. */
export function deliveryFromWire(wire: ForwardedDelivery): GroupDelivery {
  return { stored: eventFromWire(wire.event), deliveryId: wire.deliveryId, attempt: wire.attempt };
}

/** A dead letter for the wire. */
export function deadLetterToWire(dead: DeadLetter): ForwardedDeadLetter {
  return { event: eventToWire(dead.stored), attempts: dead.attempts, reason: dead.reason, deadAtMs: BigInt(dead.deadAt.getTime()) };
}

/** A dead letter from the wire. */
export function deadLetterFromWire(wire: ForwardedDeadLetter): DeadLetter {
  return { stored: eventFromWire(wire.event), attempts: wire.attempts, reason: wire.reason, deadAt: new Date(Number(wire.deadAtMs)) };
}

/** Group settings for the wire. */
export function settingsToWire(settings: GroupSettings): ForwardedGroupSettings {
  return {
    ackDeadlineMs: BigInt(settings.ackDeadlineMs),
    maxDeliveries: settings.maxDeliveries,
    backoffMinMs: BigInt(settings.backoffMinMs),
    backoffMaxMs: BigInt(settings.backoffMaxMs),
  };
}

/** Group settings from the wire. */
export function settingsFromWire(wire: ForwardedGroupSettings | undefined): GroupSettings {
  if (wire === undefined) throw new ProtobusError(Code.INVALID_ARGUMENT, "forwarded settings are missing");
  return {
    ackDeadlineMs: Number(wire.ackDeadlineMs),
    maxDeliveries: wire.maxDeliveries,
    backoffMinMs: Number(wire.backoffMinMs),
    backoffMaxMs: Number(wire.backoffMaxMs),
  };
}

/** Group stats for the wire. */
export function statsToWire(stats: GroupStats): ForwardedGroupStats {
  const { definition } = stats;
  return {
    name: definition.name,
    patterns: [...definition.patterns],
    filter: definition.filter,
    settings: settingsToWire(definition.settings),
    createdAtMs: BigInt(definition.createdAt.getTime()),
    members: BigInt(stats.members),
    ...countersToWire(stats),
  };
}

/** Group stats from the wire. */
export function statsFromWire(wire: ForwardedGroupStats): GroupStats {
  return {
    definition: {
      name: wire.name,
      patterns: wire.patterns,
      filter: wire.filter,
      settings: settingsFromWire(wire.settings),
      createdAt: new Date(Number(wire.createdAtMs)),
    },
    members: Number(wire.members),
    ...countersFromWire(wire),
  };
}

/** A dead-letter selection for the wire. */
export function selectionToWire(selection: DeadLetterSelection): { all: boolean; sequences: bigint[] } {
  return "all" in selection ? { all: true, sequences: [] } : { all: false, sequences: [...selection.sequences] };
}

/** A dead-letter selection from the wire. */
export function selectionFromWire(wire: { readonly all: boolean; readonly sequences: readonly bigint[] }): DeadLetterSelection {
  return wire.all ? { all: true } : { sequences: [...wire.sequences] };
}

/** The reply carrying an error, with its gRPC code. */
export function failureReply(error: unknown): ForwardReply {
  const failure = ProtobusError.from(error);
  return { result: { $case: "failure", failure: { code: failure.code, message: failure.rawMessage } } };
}

/** The result of a reply; its failure thrown as the ProtobusError it was. */
export function replyResult(reply: ForwardReply): NonNullable<ForwardReply["result"]> {
  const result = reply.result;
  if (result === undefined) throw new ProtobusError(Code.INTERNAL, "a forwarded operation was answered with nothing");
  if (result.$case === "failure") throw new ProtobusError(result.failure.code as Code, result.failure.message);
  return result;
}
