/**
 * Long loops give other callers a turn. A loop over caller-chosen work (the
 * payloads of one publish request: up to 4 MiB, each payload up to 1 MiB of
 * Protobuf or JSON to check) ran to its end in one turn of the event loop,
 * and every other call on the server waited for it: a request of three
 * 1 MiB payloads held the loop for over 200 ms. A loop that takes a
 * {@link TurnSlice} asks it after each step whether its turn is spent, and
 * when it is, goes on in a later turn (after pending I/O). Loops waiting to
 * go on take turns in one lane, one slice per turn of the event loop: four
 * requests going on in the same turn held it for four slices. So one step
 * is about the longest any caller waits. A loop that ends within its slice,
 * as every ordinary request's does, runs synchronously and pays one clock
 * read per few steps.
 */
import { TurnLane } from "./turn-lane.js";

/** How long a loop may hold the event loop before it gives a turn away. */
export const TURN_SLICE_MS = 4;

// The loops of the process waiting to go on, one per turn.
const slices = new TurnLane();

// The clock is read once this much weight of steps has passed: every step
// weighs one, plus one per KiB it handled, so that a step of a large payload
// is measured at once and steps of small ones every 32.
const CHECK_WEIGHT = 32;

/** The time a loop has spent in the current turn of the event loop. */
export class TurnSlice {
  readonly #ms: number;
  #started = performance.now();
  #weight = 0;

  /** @param ms How long the loop may run in one turn; 0 gives a turn away at every measured step. */
  constructor(ms: number = TURN_SLICE_MS) {
    this.#ms = ms;
  }

  /** Records one step that handled `bytes`; true when the turn is spent and the loop should go on in {@link next}. */
  spent(bytes: number): boolean {
    this.#weight += 1 + (bytes >>> 10);
    if (this.#weight < CHECK_WEIGHT) return false;
    this.#weight = 0;
    return performance.now() - this.#started >= this.#ms;
  }

  /** Resolves in a later turn of the event loop, after pending I/O and the slices of loops that waited before, where a new slice starts. */
  next(): Promise<void> {
    return slices.run(0, () => {
      this.#started = performance.now();
      this.#weight = 0;
    });
  }
}
