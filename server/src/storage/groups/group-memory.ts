/**
 * The bytes one consumer group holds, kept for its engine: events read
 * ahead and not handed out (bounded by `readAheadBytes`), and events handed
 * to each member and not settled (bounded per member by the member's own
 * budget, see `GroupSubscription`). Every byte is drawn from the server's
 * {@link MemoryBudget}; a group holding nothing costs the budget nothing.
 * Sizes are the events' encoded envelopes.
 */
import type { MemoryBudget } from "../memory-budget.js";

/** Default read-ahead of one group, in bytes (`--group-read-ahead-bytes`). */
export const DEFAULT_GROUP_READ_AHEAD_BYTES = 2 * 2 ** 20;

/** Byte accounting of one group. */
export class GroupMemory {
  readonly #budget: MemoryBudget;
  readonly #readAheadBytes: number;
  /** Bytes of events held and not in flight. */
  #ready = 0;
  /** Bytes in flight, per member. */
  readonly #members = new Map<string, number>();
  #inFlight = 0;

  constructor(budget: MemoryBudget, readAheadBytes: number) {
    this.#budget = budget;
    this.#readAheadBytes = readAheadBytes;
  }

  /** Bytes held ahead (not in flight). */
  get readyBytes(): number {
    return this.#ready;
  }

  /** True when another read may add events: read-ahead below its bound and the budget not spent. */
  hasRoom(): boolean {
    return this.#ready < this.#readAheadBytes && this.#budget.available() > 0;
  }

  /** Read-ahead bytes that may still be taken. */
  room(): number {
    return Math.max(0, Math.min(this.#readAheadBytes - this.#ready, this.#budget.available()));
  }

  /**
   * Takes bytes for a newly read event: false (nothing taken) when they do
   * not fit. The first event of an empty read-ahead fits whatever its size
   * against the group's bound, never against the server's budget.
   */
  tryAdd(bytes: number): boolean {
    if (this.#ready > 0 && this.#ready + bytes > this.#readAheadBytes) return false;
    if (!this.#budget.tryTake("read_ahead", bytes)) return false;
    this.#ready += bytes;
    return true;
  }

  /** Takes bytes for an event that must be held (a retry, a redriven dead letter). */
  add(bytes: number): void {
    this.#budget.take("read_ahead", bytes);
    this.#ready += bytes;
  }

  /** Events held ahead, of `bytes` in all, were handed to a member. */
  handOut(member: string, bytes: number): void {
    this.#ready -= bytes;
    this.#inFlight += bytes;
    this.#members.set(member, (this.#members.get(member) ?? 0) + bytes);
    this.#budget.release("read_ahead", bytes);
    this.#budget.take("unacked", bytes);
  }

  /** An event in flight came back (failed, member left); it is held ahead again. */
  takeBack(member: string, bytes: number): void {
    this.#leaveFlight(member, bytes);
    this.#ready += bytes;
    this.#budget.release("unacked", bytes);
    this.#budget.take("read_ahead", bytes);
  }

  /** Events in flight to a member, of `bytes` in all, were settled. */
  settleInFlight(member: string, bytes: number): void {
    this.#leaveFlight(member, bytes);
    this.#budget.release("unacked", bytes);
  }

  /** An event held ahead was settled or dropped. */
  drop(bytes: number): void {
    this.#ready -= bytes;
    this.#budget.release("read_ahead", bytes);
  }

  /** Takes `bytes` off what is in flight, in all and to `member`. */
  #leaveFlight(member: string, bytes: number): void {
    const held = this.#members.get(member);
    if (held !== undefined) {
      if (held - bytes <= 0) this.#members.delete(member);
      else this.#members.set(member, held - bytes);
    }
    this.#inFlight -= bytes;
  }

  /** Bytes in flight to one member. */
  inFlightOf(member: string): number {
    return this.#members.get(member) ?? 0;
  }

  /** Gives everything back (the engine stops). */
  releaseAll(): void {
    this.#budget.release("read_ahead", this.#ready);
    this.#budget.release("unacked", this.#inFlight);
    this.#ready = 0;
    this.#inFlight = 0;
    this.#members.clear();
  }
}
