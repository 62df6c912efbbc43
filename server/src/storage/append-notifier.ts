import type { AppendListener } from "./backend.js";

/**
 * Fans the news of an append out to listeners, for backends whose appends
 * all happen in this process. A listener that throws is isolated from the
 * others and from the append that triggered it.
 */
export class AppendNotifier {
  readonly #listeners = new Set<AppendListener>();

  /** Adds a listener; returns the function that removes it. */
  add(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener the new head sequence. */
  notify(headSequence: bigint): void {
    for (const listener of this.#listeners) {
      try {
        listener(headSequence);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Drops every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
