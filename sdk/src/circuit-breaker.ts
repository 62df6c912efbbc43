/**
 * A circuit breaker around any async call (as in cockatiel or opossum):
 * CLOSED lets calls through and counts consecutive failures; at
 * `failureThreshold` it trips to OPEN, where calls are rejected at once with
 * `UNAVAILABLE`; after `resetTimeout` it lets `halfOpenMax` trial calls
 * through (HALF_OPEN): a success closes it, a failure opens it again.
 */
import { publishCircuitBreakerEvents, type CircuitEventPublisher, type CircuitEventPublishingOptions } from "./circuit-breaker-events.js";
import { Code, ProtobusError } from "./protobus-error.js";

/** The states of a circuit breaker. */
export const CircuitState = {
  /** Calls go through; consecutive failures are counted. */
  CLOSED: "CLOSED",
  /** Calls are rejected at once until the reset timeout has passed. */
  OPEN: "OPEN",
  /** A few trial calls go through; their outcome closes or opens the circuit. */
  HALF_OPEN: "HALF_OPEN",
} as const;

/** A circuit breaker state. */
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

/** A clock the breaker reads; tests pass a fake one. */
export interface BreakerClock {
  /** Milliseconds since some fixed instant. */
  now(): number;
}

/** What a state change says. */
export interface CircuitStateChange {
  /** The breaker's name. */
  readonly name: string;
  readonly previousState: CircuitState;
  readonly state: CircuitState;
  /** Consecutive failures counted when the change happened. */
  readonly failureCount: number;
  /** The failure that opened the circuit, when it opened. */
  readonly error?: unknown;
  /** When it opened: in how many ms trial calls will be let through. */
  readonly retryInMs?: number;
  /** Correlation id of the call that caused the change, when it had one. */
  readonly correlationId?: string;
}

/** Told about a call the breaker rejected or a call that failed. */
export interface CircuitCallOutcome {
  readonly name: string;
  readonly state: CircuitState;
  readonly failureCount: number;
  /** The call's failure (for a rejection: the rejection itself). */
  readonly error: unknown;
  /** For a rejection: in how many ms trial calls will be let through (0 when HALF_OPEN). */
  readonly retryInMs?: number;
  /** Correlation id of the call, when it had one. */
  readonly correlationId?: string;
}

/** Listeners of a breaker; each is optional. */
export interface CircuitBreakerListeners {
  /** The state changed. */
  readonly stateChanged?: (change: CircuitStateChange) => void;
  /** A call was rejected because the circuit is open (or its trial calls are taken). */
  readonly callRejected?: (outcome: CircuitCallOutcome) => void;
  /** A call failed and the failure counted (`isFailure` said so). */
  readonly callFailed?: (outcome: CircuitCallOutcome) => void;
}

/** Options of {@link createCircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Names the protected dependency in errors and events, e.g. `payments-api`. */
  readonly name: string;
  /** Consecutive counted failures that open the circuit (default 5). */
  readonly failureThreshold?: number;
  /** How long the circuit stays OPEN before trial calls go through, in ms (default 30 s). */
  readonly resetTimeout?: number;
  /** Trial calls let through at once while HALF_OPEN (default 1). */
  readonly halfOpenMax?: number;
  /**
   * Whether an error counts as a failure of the dependency (default: every
   * error does). Errors that do not count still reach the caller, and reset
   * nothing: a caller's bad input is not the dependency being down.
   */
  readonly isFailure?: (error: unknown) => boolean;
  /** The clock; `Date.now` by default. */
  readonly clock?: BreakerClock;
  /** Listeners; {@link CircuitBreaker.on} adds more later. */
  readonly listeners?: CircuitBreakerListeners;
  /**
   * Where the breaker publishes its events (`circuit_breaker.state.changed`,
   * `circuit_breaker.call.rejected`, `circuit_breaker.call.failed`, typed by
   * `protobus/v1/circuit_breaker.proto`): a client, or anything with its
   * `publish(event)`. None when absent. See {@link publishCircuitBreakerEvents}.
   */
  readonly publisher?: CircuitEventPublisher;
  /** Which events to publish and what to do when publishing fails. */
  readonly publishing?: CircuitEventPublishingOptions;
}

/** Options of one call through a breaker. */
export interface CircuitCallOptions {
  /** Correlation id carried into the breaker's events about this call. */
  readonly correlationId?: string;
}

/** A permit to make one call, from {@link CircuitBreaker.tryAcquire}. */
export interface CircuitPermit {
  /** The call succeeded. */
  success(): void;
  /** The call failed with `error`; counted only when `isFailure(error)`. */
  failure(error: unknown): void;
  /** The call was not made after all (or its outcome says nothing about the dependency). */
  release(): void;
}

/** A circuit breaker. */
export interface CircuitBreaker {
  /** The name given at creation. */
  readonly name: string;
  /** The current state; OPEN turns into HALF_OPEN when read after the reset timeout. */
  readonly state: CircuitState;
  /** Consecutive counted failures since the last success. */
  readonly failureCount: number;
  /**
   * Runs `call` when the circuit allows it. Rejects with `UNAVAILABLE`
   * (a {@link ProtobusError} with an `ErrorInfo` whose reason is
   * `CIRCUIT_OPEN`) without calling it while the circuit is open.
   */
  execute<T>(call: () => Promise<T> | T, options?: CircuitCallOptions): Promise<T>;
  /**
   * The low-level form of `execute`, for callers that cannot wrap their call
   * in a function (a pipelined stream): a permit, or the rejection error
   * when the circuit does not allow a call now.
   */
  tryAcquire(options?: CircuitCallOptions): CircuitPermit | ProtobusError;
  /** Adds listeners; returns their removal. */
  on(listeners: CircuitBreakerListeners): () => void;
  /** Closes the circuit and forgets the failures (an operator's reset). */
  reset(): void;
}

/** The `ErrorInfo.reason` of a call a breaker rejected. */
export const CIRCUIT_OPEN_REASON = "CIRCUIT_OPEN";

/**
 * Creates a circuit breaker.
 *
 * @example
 * const breaker = createCircuitBreaker({ name: "payments-api", failureThreshold: 5, resetTimeout: 10_000 });
 * const receipt = await breaker.execute(() => payments.charge(order));
 */
export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  const breaker = new Breaker(options);
  if (options.publisher !== undefined) publishCircuitBreakerEvents(breaker, options.publisher, options.publishing);
  return breaker;
}

/** The breaker {@link createCircuitBreaker} makes. */
class Breaker implements CircuitBreaker {
  readonly name: string;
  readonly #failureThreshold: number;
  readonly #resetTimeout: number;
  readonly #halfOpenMax: number;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #clock: { now(): number };
  readonly #listeners = new Set<CircuitBreakerListeners>();
  #state: CircuitState = CircuitState.CLOSED;
  #failures = 0;
  #openedAt = 0;
  #trials = 0;
  // Bumped on every transition: the outcome of a call let through in an
  // earlier state (a slow call from before the circuit opened) does not
  // decide the new state.
  #epoch = 0;

  constructor(options: CircuitBreakerOptions) {
    this.#failureThreshold = positive(options.failureThreshold ?? 5, "failureThreshold");
    this.#resetTimeout = Math.max(0, options.resetTimeout ?? 30_000);
    this.#halfOpenMax = positive(options.halfOpenMax ?? 1, "halfOpenMax");
    this.#isFailure = options.isFailure ?? (() => true);
    this.#clock = options.clock ?? { now: () => Date.now() };
    if (options.listeners !== undefined) this.#listeners.add(options.listeners);
    this.name = options.name;
  }

  get state(): CircuitState {
    return this.#current();
  }

  get failureCount(): number {
    return this.#failures;
  }

  async execute<T>(call: () => Promise<T> | T, callOptions?: CircuitCallOptions): Promise<T> {
    const permit = this.tryAcquire(callOptions);
    if (permit instanceof ProtobusError) throw permit;
    try {
      const result = await call();
      permit.success();
      return result;
    } catch (error) {
      permit.failure(error);
      throw error;
    }
  }

  tryAcquire(callOptions?: CircuitCallOptions): CircuitPermit | ProtobusError {
    const now = this.#current(callOptions);
    if (now === CircuitState.OPEN || (now === CircuitState.HALF_OPEN && this.#trials >= this.#halfOpenMax)) {
      const error = this.#rejection();
      this.#emit("callRejected", { name: this.name, state: now, failureCount: this.#failures, error, retryInMs: this.#retryIn(), ...correlation(callOptions) });
      return error;
    }
    const myEpoch = this.#epoch;
    const trial = now === CircuitState.HALF_OPEN;
    if (trial) this.#trials += 1;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (trial && myEpoch === this.#epoch) this.#trials -= 1;
      return myEpoch === this.#epoch;
    };
    return {
      success: () => {
        if (settle()) this.#succeeded(callOptions);
      },
      failure: (error) => {
        if (settle() && this.#isFailure(error)) this.#failed(error, callOptions);
      },
      release: () => {
        settle();
      },
    };
  }

  on(more: CircuitBreakerListeners): () => void {
    this.#listeners.add(more);
    return () => this.#listeners.delete(more);
  }

  reset(): void {
    this.#failures = 0;
    this.#transition(CircuitState.CLOSED);
  }

  #succeeded(callOptions: CircuitCallOptions | undefined): void {
    if (this.#state === CircuitState.HALF_OPEN) this.#transition(CircuitState.CLOSED, correlation(callOptions));
    else this.#failures = 0;
  }

  #failed(error: unknown, callOptions: CircuitCallOptions | undefined): void {
    this.#failures += 1;
    this.#emit("callFailed", { name: this.name, state: this.#state, failureCount: this.#failures, error, ...correlation(callOptions) });
    if (this.#state === CircuitState.HALF_OPEN || this.#failures >= this.#failureThreshold) {
      this.#transition(CircuitState.OPEN, { error, ...correlation(callOptions) });
    }
  }

  #emit<K extends keyof CircuitBreakerListeners>(kind: K, value: Parameters<NonNullable<CircuitBreakerListeners[K]>>[0]): void {
    for (const l of this.#listeners) {
      try {
        (l[kind] as ((v: typeof value) => void) | undefined)?.(value);
      } catch {
        // A throwing listener must not break the protected call.
      }
    }
  }

  #transition(next: CircuitState, extra: { error?: unknown; correlationId?: string } = {}): void {
    const previousState = this.#state;
    if (previousState === next) return;
    this.#state = next;
    this.#epoch += 1;
    this.#trials = 0;
    if (next === CircuitState.OPEN) this.#openedAt = this.#clock.now();
    if (next === CircuitState.CLOSED) this.#failures = 0;
    this.#emit("stateChanged", {
      name: this.name,
      previousState,
      state: next,
      failureCount: this.#failures,
      ...(next === CircuitState.OPEN ? { retryInMs: this.#resetTimeout } : {}),
      ...(extra.error !== undefined ? { error: extra.error } : {}),
      ...(extra.correlationId !== undefined ? { correlationId: extra.correlationId } : {}),
    });
  }

  #current(callOptions?: CircuitCallOptions): CircuitState {
    if (this.#state === CircuitState.OPEN && this.#clock.now() - this.#openedAt >= this.#resetTimeout) {
      this.#transition(CircuitState.HALF_OPEN, callOptions?.correlationId !== undefined ? { correlationId: callOptions.correlationId } : {});
    }
    return this.#state;
  }

  #retryIn(): number {
    return this.#state === CircuitState.OPEN ? Math.max(0, this.#openedAt + this.#resetTimeout - this.#clock.now()) : 0;
  }

  #rejection(): ProtobusError {
    const retryInMs = this.#retryIn();
    const message =
      this.#state === CircuitState.OPEN
        ? `circuit '${this.name}' is open after ${this.#failures} consecutive failures; calls resume in ${retryInMs} ms`
        : `circuit '${this.name}' is half-open and its ${this.#halfOpenMax} trial call(s) are in progress`;
    return new ProtobusError(Code.UNAVAILABLE, message, [
      {
        type: "ErrorInfo",
        value: { reason: CIRCUIT_OPEN_REASON, domain: "protobus.dev", metadata: { circuit: this.name, state: this.#state, retryInMs: String(retryInMs) } },
      },
    ]);
  }
}

function correlation(options: CircuitCallOptions | undefined): { correlationId?: string } {
  return options?.correlationId !== undefined && options.correlationId !== "" ? { correlationId: options.correlationId } : {};
}

function positive(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
  return value;
}
