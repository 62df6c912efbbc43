/**
 * The messages protobus servers exchange about a consumer group over NATS
 * request/reply: a server whose subscribers are members of a group another
 * server runs forwards their joins, claims, acks, nacks and extensions, and
 * the group's administration, to that owner. JSON bodies; event envelopes
 * travel as base64 of their encoded bytes.
 */
import { ProtobusError, type Code } from "@protobus/sdk";
import type { DeadLetter, DeadLetterSelection, GroupDelivery, GroupSettings, GroupStats } from "../group-store.js";
import { StoredEvent } from "../stored-event.js";

/** One forwarded operation. */
export type GroupRequest =
  | { readonly op: "join" | "leave"; readonly member: string }
  | { readonly op: "claim"; readonly member: string; readonly max: number; readonly maxBytes?: number }
  | { readonly op: "ack"; readonly ids: readonly string[]; readonly confirm?: boolean }
  | { readonly op: "nack"; readonly ids: readonly string[]; readonly delayMs?: number; readonly reason?: string }
  | { readonly op: "extend"; readonly ids: readonly string[]; readonly extensionMs: number }
  | { readonly op: "stats" | "deleted" }
  | { readonly op: "dead"; readonly after: string; readonly limit: number; readonly patterns: readonly string[] }
  | { readonly op: "redrive" | "purge"; readonly all: boolean; readonly sequences: readonly string[] }
  | { readonly op: "settings"; readonly settings: GroupSettings };

/** The answer: a result, or an error with its gRPC code. */
export type GroupReply = { readonly ok: unknown } | { readonly error: { readonly code: Code; readonly message: string } };

interface WireEvent {
  readonly s: string;
  readonly t: string;
  readonly b: string;
  readonly x: number;
}

/** A stored event for the wire. */
export function eventToWire(stored: StoredEvent): WireEvent {
  return { s: stored.sequence.toString(), t: stored.type, b: Buffer.from(stored.bytes).toString("base64"), x: stored.expireAtMs };
}

/** A stored event from the wire. */
export function eventFromWire(wire: WireEvent): StoredEvent {
  return new StoredEvent(BigInt(wire.s), wire.t, new Uint8Array(Buffer.from(wire.b, "base64")), wire.x);
}

/** Deliveries for the wire. */
export function deliveriesToWire(deliveries: readonly GroupDelivery[]): unknown {
  return deliveries.map((d) => ({ e: eventToWire(d.stored), i: d.deliveryId, a: d.attempt }));
}

/** Deliveries from the wire. */
export function deliveriesFromWire(wire: unknown): GroupDelivery[] {
  return (wire as Array<{ e: WireEvent; i: string; a: number }>).map((d) => ({ stored: eventFromWire(d.e), deliveryId: d.i, attempt: d.a }));
}

/** Group stats for the wire. */
export function statsToWire(stats: GroupStats): unknown {
  return { ...stats, definition: { ...stats.definition, createdAt: stats.definition.createdAt.getTime() } };
}

/** Group stats from the wire. */
export function statsFromWire(wire: unknown): GroupStats {
  const stats = wire as GroupStats & { definition: { createdAt: number } };
  return { ...stats, definition: { ...stats.definition, createdAt: new Date(stats.definition.createdAt) } };
}

/** Dead letters for the wire. */
export function deadLettersToWire(dead: readonly DeadLetter[]): unknown {
  return dead.map((d) => ({ e: eventToWire(d.stored), a: d.attempts, r: d.reason, t: d.deadAt.getTime() }));
}

/** Dead letters from the wire. */
export function deadLettersFromWire(wire: unknown): DeadLetter[] {
  return (wire as Array<{ e: WireEvent; a: number; r: string; t: number }>).map((d) => ({
    stored: eventFromWire(d.e),
    attempts: d.a,
    reason: d.r,
    deadAt: new Date(d.t),
  }));
}

/** A selection for the wire. */
export function selectionToWire(selection: DeadLetterSelection): { all: boolean; sequences: string[] } {
  return "all" in selection ? { all: true, sequences: [] } : { all: false, sequences: selection.sequences.map(String) };
}

/** A selection from the wire. */
export function selectionFromWire(wire: { readonly all: boolean; readonly sequences: readonly string[] }): DeadLetterSelection {
  return wire.all ? { all: true } : { sequences: wire.sequences.map((s) => BigInt(s)) };
}

/** The reply carrying an error. */
export function errorReply(error: unknown): GroupReply {
  const failure = ProtobusError.from(error);
  return { error: { code: failure.code, message: failure.rawMessage } };
}

/** The result of a reply, or its error thrown. */
export function unwrapReply(reply: GroupReply): unknown {
  if ("error" in reply) throw new ProtobusError(reply.error.code, reply.error.message);
  return reply.ok;
}
