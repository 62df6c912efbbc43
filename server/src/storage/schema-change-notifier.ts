import type { SchemaChangeListener } from "./schema-store.js";

/**
 * Fans schema changes out to listeners, for schema stores whose writes all
 * happen in this process. A listener that throws is isolated from the others
 * and from the write that triggered it.
 */
export class SchemaChangeNotifier {
  readonly #listeners = new Set<SchemaChangeListener>();

  /** Adds a listener; returns the function that removes it. */
  add(listener: SchemaChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener which subject changed ("" for the global mode). */
  notify(subject: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(subject);
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
