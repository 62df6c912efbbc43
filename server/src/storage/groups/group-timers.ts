/**
 * The group engine's clocks. {@link DueTimers} keeps redelivery times in a
 * heap and arms one timeout for the earliest, so thousands of waiting
 * redeliveries cost one timer; a scheduled item carries the generation it
 * was scheduled at, and only items still at that generation come due.
 * {@link DeadlineSweep} checks ack deadlines at an interval instead of one
 * timer per delivery, and stops itself when nothing is out.
 */
import { Heap } from "./heap.js";

interface Scheduled<T> {
  readonly at: number;
  readonly item: T;
  readonly gen: number;
}

/** Options of {@link DueTimers}. */
export interface DueTimersOptions<T> {
  /** The clock, in ms. */
  readonly now: () => number;
  /** The item's current generation; an item scheduled at another one is stale and skipped. */
  readonly generation: (item: T) => number;
  /** Told about the items that came due while no one asked (the armed timeout fired). */
  readonly onDue: (items: readonly T[]) => void;
}

const NONE: readonly never[] = [];

/** Items that come due at a time, with one timeout armed for the earliest. */
export class DueTimers<T> {
  readonly #heap = new Heap<Scheduled<T>>((a, b) => a.at < b.at);
  readonly #options: DueTimersOptions<T>;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(options: DueTimersOptions<T>) {
    this.#options = options;
  }

  /** Schedules `item` (at its current generation) to come due at `at`. */
  schedule(item: T, at: number): void {
    this.#heap.push({ at, item, gen: this.#options.generation(item) });
    this.#arm();
  }

  /** Removes and returns the items due by `now` whose generation did not change. */
  takeDue(now: number): readonly T[] {
    let due: T[] | undefined;
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.at > now) break;
      this.#heap.pop();
      if (top.gen !== this.#options.generation(top.item)) continue;
      (due ??= []).push(top.item);
    }
    return due ?? NONE;
  }

  /** Stops the timeout; nothing comes due by itself any more. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#closed) return;
    const next = this.#heap.peek();
    if (next === undefined || next.at >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = next.at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      const due = this.takeDue(this.#options.now());
      if (due.length > 0) this.#options.onDue(due);
      this.#arm();
    }, Math.max(0, next.at - this.#options.now()));
    this.#timer.unref();
  }
}

/** Runs a check at an interval while there is something to check. */
export class DeadlineSweep {
  readonly #check: () => boolean;
  #interval: NodeJS.Timeout | undefined;
  #closed = false;

  /** `check` runs at each tick and returns whether anything is left to watch (false stops the sweep). */
  constructor(check: () => boolean) {
    this.#check = check;
  }

  /** Starts sweeping every `everyMs`, unless it runs already or was closed. */
  start(everyMs: number): void {
    if (this.#interval !== undefined || this.#closed) return;
    this.#interval = setInterval(() => {
      if (!this.#check()) this.#stop();
    }, everyMs);
    this.#interval.unref();
  }

  /** Stops for good. */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  #stop(): void {
    if (this.#interval !== undefined) clearInterval(this.#interval);
    this.#interval = undefined;
  }
}
