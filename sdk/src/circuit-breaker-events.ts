/**
 * The events a circuit breaker publishes about itself, typed by
 * `protobus/v1/circuit_breaker.proto`: `circuit_breaker.state.changed`,
 * `circuit_breaker.call.rejected` and `circuit_breaker.call.failed`, each
 * with the breaker's name as `subject` and the correlation of the call that
 * caused it.
 */
import { readFileSync } from "node:fs";
import type { CircuitBreaker, CircuitCallOutcome, CircuitState, CircuitStateChange } from "./circuit-breaker.js";
import type { EventInput } from "./event-input.js";
import {
  CircuitBreakerCallFailed,
  CircuitBreakerCallRejected,
  CircuitBreakerState,
  CircuitBreakerStateChanged,
} from "./gen/protobus/v1/circuit_breaker.pb.js";
import { codeName, ProtobusError } from "./protobus-error.js";
import { defineEvent, PROTOBUF_CONTENT_TYPE, type EventDefinition } from "./typed/event-definition.js";
import { eventsInDescriptorSet } from "./typed/event-options.js";

/** The event types of a circuit breaker. */
export const CIRCUIT_BREAKER_EVENT_TYPES = {
  stateChanged: "circuit_breaker.state.changed",
  callRejected: "circuit_breaker.call.rejected",
  callFailed: "circuit_breaker.call.failed",
} as const;

/** What a breaker publishes through: a client, or anything with its single-event `publish`. */
export interface CircuitEventPublisher {
  publish(event: EventInput): Promise<unknown>;
}

/** Which events a breaker publishes, and where publishing failures go. */
export interface CircuitEventPublishingOptions {
  /** Publish `circuit_breaker.call.rejected` for every rejected call (default true). */
  readonly callRejected?: boolean;
  /** Publish `circuit_breaker.call.failed` for every counted failure (default true). */
  readonly callFailed?: boolean;
  /** Told when an event could not be published; publishing never fails the protected call. */
  readonly onError?: (error: unknown, event: EventInput) => void;
}

const MAX_ERROR_TEXT = 1024;

function stateOf(state: CircuitState): CircuitBreakerState {
  switch (state) {
    case "CLOSED":
      return CircuitBreakerState.CIRCUIT_BREAKER_STATE_CLOSED;
    case "OPEN":
      return CircuitBreakerState.CIRCUIT_BREAKER_STATE_OPEN;
    case "HALF_OPEN":
      return CircuitBreakerState.CIRCUIT_BREAKER_STATE_HALF_OPEN;
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}

function errorCode(error: unknown): string {
  return error instanceof ProtobusError ? codeName(error.code) : "";
}

function envelope(type: string, name: string, data: Uint8Array, correlationId: string | undefined, priority?: number): EventInput {
  return {
    type,
    subject: name,
    data,
    dataContentType: PROTOBUF_CONTENT_TYPE,
    ...(correlationId !== undefined ? { correlationId } : {}),
    ...(priority !== undefined ? { priority } : {}),
  };
}

/** The envelope of a state change. */
export function stateChangedEvent(change: CircuitStateChange): EventInput {
  const opened = change.state === "OPEN";
  const data = CircuitBreakerStateChanged.encode({
    name: change.name,
    previousState: stateOf(change.previousState),
    state: stateOf(change.state),
    failureCount: change.failureCount,
    error: opened && change.error !== undefined ? errorText(change.error) : "",
    errorCode: opened && change.error !== undefined ? errorCode(change.error) : "",
    retryAt: opened && change.retryInMs !== undefined ? new Date(Date.now() + change.retryInMs) : undefined,
  }).finish();
  return envelope(CIRCUIT_BREAKER_EVENT_TYPES.stateChanged, change.name, data, change.correlationId, 2);
}

/** The envelope of a rejected call. */
export function callRejectedEvent(outcome: CircuitCallOutcome): EventInput {
  const data = CircuitBreakerCallRejected.encode({
    name: outcome.name,
    state: stateOf(outcome.state),
    failureCount: outcome.failureCount,
    retryAt: new Date(Date.now() + (outcome.retryInMs ?? 0)),
  }).finish();
  return envelope(CIRCUIT_BREAKER_EVENT_TYPES.callRejected, outcome.name, data, outcome.correlationId);
}

/** The envelope of a counted failure. */
export function callFailedEvent(outcome: CircuitCallOutcome): EventInput {
  const data = CircuitBreakerCallFailed.encode({
    name: outcome.name,
    state: stateOf(outcome.state),
    failureCount: outcome.failureCount,
    error: errorText(outcome.error),
    errorCode: errorCode(outcome.error),
  }).finish();
  return envelope(CIRCUIT_BREAKER_EVENT_TYPES.callFailed, outcome.name, data, outcome.correlationId);
}

/**
 * Publishes a breaker's events through `publisher` from now on; returns the
 * function that stops it. The events are published from inside the call
 * that caused them, so a client's publish gives them that call's
 * correlation (a handled event's flow) when the call names none.
 */
export function publishCircuitBreakerEvents(
  breaker: CircuitBreaker,
  publisher: CircuitEventPublisher,
  options: CircuitEventPublishingOptions = {},
): () => void {
  const send = (event: EventInput): void => {
    let pending: Promise<unknown>;
    try {
      pending = publisher.publish(event);
    } catch (error) {
      options.onError?.(error, event);
      return;
    }
    pending.catch((error: unknown) => options.onError?.(error, event));
  };
  return breaker.on({
    stateChanged: (change) => send(stateChangedEvent(change)),
    ...(options.callRejected !== false ? { callRejected: (outcome: CircuitCallOutcome) => send(callRejectedEvent(outcome)) } : {}),
    ...(options.callFailed !== false ? { callFailed: (outcome: CircuitCallOutcome) => send(callFailedEvent(outcome)) } : {}),
  });
}

let definitions: { readonly [type: string]: EventDefinition } | undefined;

/**
 * Typed definitions of the three breaker events, keyed by type: pass them
 * to `syncEventSchemas` to register their schemas, or to `createClient({
 * events })` to subscribe to them typed. Read from the descriptor set the
 * SDK ships (`@protobus/sdk/descriptor`).
 */
export function circuitBreakerEvents(): { readonly [type: string]: EventDefinition } {
  if (definitions !== undefined) return definitions;
  const set = new Uint8Array(readFileSync(new URL("../src/gen/protobus.binpb", import.meta.url)));
  const wanted = new Set<string>(Object.values(CIRCUIT_BREAKER_EVENT_TYPES));
  const out: Record<string, EventDefinition> = {};
  for (const annotated of eventsInDescriptorSet(set)) {
    if (wanted.has(annotated.type)) out[annotated.type] = defineEvent({ type: annotated.type, schema: annotated.message, defaults: annotated.defaults });
  }
  definitions = Object.freeze(out);
  return definitions;
}
