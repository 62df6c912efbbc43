/**
 * The two things a group handle tells its users about: work ready to claim
 * and events moved to the dead-letter queue. The group engine and the
 * coordinated group both keep one.
 */
import { Listeners } from "../listeners.js";
import type { StoredEvent } from "../stored-event.js";

/** The ready and dead-letter listeners of one group handle. */
export class GroupSignals {
  readonly #ready = new Listeners();
  readonly #dead = new Set<(stored: StoredEvent) => void>();

  /** Adds a listener told when there may be work to claim; returns the function that removes it. */
  onReady(listener: () => void): () => void {
    return this.#ready.add(listener);
  }

  /** Adds a listener told of each event moved to the dead-letter queue; returns the function that removes it. */
  onDeadLetter(listener: (stored: StoredEvent) => void): () => void {
    this.#dead.add(listener);
    return () => this.#dead.delete(listener);
  }

  /** Tells the ready listeners (one that throws is isolated from the others). */
  ready(): void {
    this.#ready.notify();
  }

  /** Tells the dead-letter listeners about `stored`, in the order they were added. */
  deadLettered(stored: StoredEvent): void {
    for (const listener of this.#dead) listener(stored);
  }
}
