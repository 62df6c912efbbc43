/**
 * The event a handler is handling, carried through its async work by
 * AsyncLocalStorage, so that events it publishes inherit the flow.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** What a publish inside a handler needs to know about the handled event. */
export interface HandledEvent {
  /** The handled event's id: the causation id of what the handler publishes. */
  readonly id: string;
  /** The handled event's correlation id; empty when it had none. */
  readonly correlationId: string;
}

const storage = new AsyncLocalStorage<HandledEvent>();

/** Runs `fn` with `event` as the handled event of everything it does. */
export function runInHandler<T>(event: HandledEvent, fn: () => T): T {
  return storage.run(event, fn);
}

/** The event the current handler is handling, or undefined outside a handler. */
export function currentHandledEvent(): HandledEvent | undefined {
  return storage.getStore();
}
