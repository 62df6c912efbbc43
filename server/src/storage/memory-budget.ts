/**
 * The server-wide ceiling on the event bytes held for readers: consumer
 * groups' read-ahead and every subscription's unacked deliveries draw from
 * one {@link MemoryBudget}. A reader that finds it spent waits (it is told
 * when bytes are released) instead of allocating past it, so the server
 * stays under `--memory-budget` whatever its subscribers do.
 */
import { getHeapStatistics } from "node:v8";
import { totalmem } from "node:os";

/** What the bytes are held for (a label of the `protobus_memory_held_bytes` gauge). */
export type MemoryUse = "read_ahead" | "unacked";

/**
 * The default ceiling: a quarter of the machine's memory, at most half of
 * the V8 heap limit (held events live on the heap or next to it).
 */
export function defaultMemoryBudget(): number {
  const machine = Math.floor(totalmem() / 4);
  const heap = Math.floor(getHeapStatistics().heap_size_limit / 2);
  return Math.max(16 * 2 ** 20, Math.min(machine, heap));
}

/** A shared byte budget with a wake-up for those waiting on it. */
export class MemoryBudget {
  /** The ceiling, in bytes. */
  readonly limit: number;
  readonly #held: Record<MemoryUse, number> = { read_ahead: 0, unacked: 0 };
  readonly #waiting = new Set<() => void>();
  #wakeScheduled = false;

  constructor(limit: number = defaultMemoryBudget()) {
    this.limit = limit;
  }

  /** Bytes held now, in all or for one use. */
  held(use?: MemoryUse): number {
    return use === undefined ? this.#held.read_ahead + this.#held.unacked : this.#held[use];
  }

  /** Bytes that may still be taken. */
  available(): number {
    return Math.max(0, this.limit - this.held());
  }

  /** Takes `bytes` when they fit under the ceiling; false (nothing taken) when they do not. */
  tryTake(use: MemoryUse, bytes: number): boolean {
    if (bytes > this.available()) return false;
    this.#held[use] += bytes;
    return true;
  }

  /**
   * Takes `bytes` whatever is left: for state that must be held to be
   * correct (a redelivery, a redriven dead letter), never for new reads.
   */
  take(use: MemoryUse, bytes: number): void {
    this.#held[use] += bytes;
  }

  /** Gives bytes back; waiting readers are told once per tick. */
  release(use: MemoryUse, bytes: number): void {
    if (bytes <= 0) return;
    this.#held[use] = Math.max(0, this.#held[use] - bytes);
    if (this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      // A snapshot: a listener that waits again is told on the next release, not in this one.
      const waiting = [...this.#waiting];
      this.#waiting.clear();
      for (const listener of waiting) listener();
    });
  }

  /**
   * Tells `listener` once, the next time bytes are released; returns the
   * function that removes it. A reader registers when it stops for the
   * budget, so a reader that does not wait costs nothing here.
   */
  onceReleased(listener: () => void): () => void {
    this.#waiting.add(listener);
    return () => this.#waiting.delete(listener);
  }
}
