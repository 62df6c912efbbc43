/**
 * Byte-based backpressure for one subscriber's server stream. grpc-js
 * buffers up to 16 messages per stream before `write` returns false,
 * whatever their size; with batched deliveries (up to 1 MiB each) that
 * would be megabytes held for one stalled subscriber. This counts the bytes
 * of writes the transport has not completed yet (a write completes once
 * HTTP/2 sent it, i.e. the peer's flow-control window had room for it) and
 * reports the stream full from `limit` bytes on, or when the stream itself
 * says so.
 */
import type { Writable } from "node:stream";

/** Bytes a subscriber's stream may hold unsent before its pump waits. */
export const STREAM_BUFFER_LIMIT = 256 * 1024;

export class StreamWriter<T> {
  readonly #stream: Writable;
  readonly #limit: number;
  #buffered = 0;
  #closed = false;
  #waiters: Array<() => void> = [];
  #listening = false;

  constructor(stream: Writable, limit = STREAM_BUFFER_LIMIT) {
    this.#stream = stream;
    this.#limit = limit;
  }

  /** Writes a message; false when the caller should wait for {@link whenWritable}. */
  write(message: T): boolean {
    const bytes = message instanceof Uint8Array ? message.byteLength : 0;
    this.#buffered += bytes;
    const accepted = this.#stream.write(message, () => {
      this.#buffered -= bytes;
      this.#check();
    });
    return accepted && this.#buffered < this.#limit;
  }

  /** Resolves once the stream can take more (at once when it can, or when closed). */
  whenWritable(): Promise<void> {
    if (this.#writable()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#waiters.push(resolve);
      if (this.#stream.writableNeedDrain && !this.#listening) {
        this.#listening = true;
        this.#stream.once("drain", () => {
          this.#listening = false;
          this.#check();
        });
      }
    });
  }

  /** Releases every waiter: the stream ended. */
  close(): void {
    this.#closed = true;
    this.#check();
  }

  #writable(): boolean {
    return this.#closed || (!this.#stream.writableNeedDrain && this.#buffered < this.#limit);
  }

  #check(): void {
    if (this.#waiters.length === 0 || !this.#writable()) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
