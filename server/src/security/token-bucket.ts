/**
 * A token bucket: `rate` tokens a second flow in, up to `capacity`. Taking
 * more than the bucket holds is refused with the time to wait; a request
 * larger than the whole capacity is let through when the bucket is full and
 * leaves it in debt, so that a big batch is slowed to the rate instead of
 * refused forever.
 */
export class TokenBucket {
  readonly rate: number;
  readonly capacity: number;
  #tokens: number;
  #updated: number;

  /** A full bucket. `rate` per second, both above 0. */
  constructor(rate: number, capacity: number, now: number) {
    this.rate = rate;
    this.capacity = capacity;
    this.#tokens = capacity;
    this.#updated = now;
  }

  #refill(now: number): void {
    if (now > this.#updated) {
      this.#tokens = Math.min(this.capacity, this.#tokens + ((now - this.#updated) / 1000) * this.rate);
      this.#updated = now;
    }
  }

  /** Milliseconds until `n` tokens can be taken; 0 when they can be now. */
  waitMs(n: number, now: number): number {
    this.#refill(now);
    const needed = Math.min(n, this.capacity);
    if (this.#tokens >= needed) return 0;
    return ((needed - this.#tokens) / this.rate) * 1000;
  }

  /** Takes `n` tokens (after {@link waitMs} said 0). */
  take(n: number, now: number): void {
    this.#refill(now);
    this.#tokens -= n;
  }

  /** True when the bucket is full again (its state can be forgotten). */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.capacity;
  }
}
