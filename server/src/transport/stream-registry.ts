/**
 * The open streams of the server, so that a shutdown can end each of them
 * with a status (UNAVAILABLE: reconnect elsewhere) instead of cutting the
 * connection.
 */
import type { ProtobusError } from "@protobus/sdk";

/** Tracks open streams so that shutdown can end them with a status. */
export class StreamRegistry {
  readonly #closers = new Set<(error: ProtobusError) => void>();

  /** Registers a stream's closer; returns its removal (call it when the stream ends). */
  add(close: (error: ProtobusError) => void): () => void {
    this.#closers.add(close);
    return () => this.#closers.delete(close);
  }

  /** Ends every open stream with `error`. */
  closeAll(error: ProtobusError): void {
    for (const close of [...this.#closers]) close(error);
    this.#closers.clear();
  }

  /** How many streams are open. */
  get size(): number {
    return this.#closers.size;
  }
}
