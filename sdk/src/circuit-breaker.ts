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
  const failureThreshold = positive(options.failureThreshold ?? 5, "failureThreshold");
  const resetTimeout = Math.max(0, options.resetTimeout ?? 30_000);
  const halfOpenMax = positive(options.halfOpenMax ?? 1, "halfOpenMax");
  const isFailure = options.isFailure ?? (() => true);
  const clock = options.clock ?? { now: () => Date.now() };
  const listeners = new Set<CircuitBreakerListeners>();
  if (options.listeners !== undefined) listeners.add(options.listeners);
  const name = options.name;

  let state: CircuitState = CircuitState.CLOSED;
  let failures = 0;
  let openedAt = 0;
  let trials = 0;
  // Bumped on every transition: the outcome of a call let through in an
  // earlier state (a slow call from before the circuit opened) does not
  // decide the new state.
  let epoch = 0;

  const emit = <K extends keyof CircuitBreakerListeners>(kind: K, value: Parameters<NonNullable<CircuitBreakerListeners[K]>>[0]): void => {
    for (const l of listeners) {
      try {
        (l[kind] as ((v: typeof value) => void) | undefined)?.(value);
      } catch {
        // A throwing listener must not break the protected call.
      }
    }
  };

  const transition = (next: CircuitState, extra: { error?: unknown; correlationId?: string } = {}): void => {
    const previousState = state;
    if (previousState === next) return;
    state = next;
    epoch += 1;
    trials = 0;
    if (next === CircuitState.OPEN) openedAt = clock.now();
    if (next === CircuitState.CLOSED) failures = 0;
    emit("stateChanged", {
      name,
      previousState,
      state: next,
      failureCount: failures,
      ...(next === CircuitState.OPEN ? { retryInMs: resetTimeout } : {}),
      ...(extra.error !== undefined ? { error: extra.error } : {}),
      ...(extra.correlationId !== undefined ? { correlationId: extra.correlationId } : {}),
    });
  };

  const current = (callOptions?: CircuitCallOptions): CircuitState => {
    if (state === CircuitState.OPEN && clock.now() - openedAt >= resetTimeout) {
      transition(CircuitState.HALF_OPEN, callOptions?.correlationId !== undefined ? { correlationId: callOptions.correlationId } : {});
    }
    return state;
  };

  const retryIn = (): number => (state === CircuitState.OPEN ? Math.max(0, openedAt + resetTimeout - clock.now()) : 0);

  const rejection = (): ProtobusError => {
    const retryInMs = retryIn();
    const message =
      state === CircuitState.OPEN
        ? `circuit '${name}' is open after ${failures} consecutive failures; calls resume in ${retryInMs} ms`
        : `circuit '${name}' is half-open and its ${halfOpenMax} trial call(s) are in progress`;
    return new ProtobusError(Code.UNAVAILABLE, message, [
      {
        type: "ErrorInfo",
        value: { reason: CIRCUIT_OPEN_REASON, domain: "protobus.dev", metadata: { circuit: name, state, retryInMs: String(retryInMs) } },
      },
    ]);
  };

  const tryAcquire = (callOptions?: CircuitCallOptions): CircuitPermit | ProtobusError => {
    const now = current(callOptions);
    if (now === CircuitState.OPEN || (now === CircuitState.HALF_OPEN && trials >= halfOpenMax)) {
      const error = rejection();
      emit("callRejected", { name, state: now, failureCount: failures, error, retryInMs: retryIn(), ...correlation(callOptions) });
      return error;
    }
    const myEpoch = epoch;
    const trial = now === CircuitState.HALF_OPEN;
    if (trial) trials += 1;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (trial && myEpoch === epoch) trials -= 1;
      return myEpoch === epoch;
    };
    return {
      success() {
        if (!settle()) return;
        if (state === CircuitState.HALF_OPEN) transition(CircuitState.CLOSED, correlation(callOptions));
        else failures = 0;
      },
      failure(error) {
        if (!settle() || !isFailure(error)) return;
        failures += 1;
        emit("callFailed", { name, state, failureCount: failures, error, ...correlation(callOptions) });
        if (state === CircuitState.HALF_OPEN || failures >= failureThreshold) {
          transition(CircuitState.OPEN, { error, ...correlation(callOptions) });
        }
      },
      release() {
        settle();
      },
    };
  };

  const breaker: CircuitBreaker = {
    name,
    get state() {
      return current();
    },
    get failureCount() {
      return failures;
    },
    async execute<T>(call: () => Promise<T> | T, callOptions?: CircuitCallOptions): Promise<T> {
      const permit = tryAcquire(callOptions);
      if (permit instanceof ProtobusError) throw permit;
      try {
        const result = await call();
        permit.success();
        return result;
      } catch (error) {
        permit.failure(error);
        throw error;
      }
    },
    tryAcquire,
    on(more) {
      listeners.add(more);
      return () => listeners.delete(more);
    },
    reset() {
      failures = 0;
      transition(CircuitState.CLOSED);
    },
  };
  if (options.publisher !== undefined) publishCircuitBreakerEvents(breaker, options.publisher, options.publishing);
  return breaker;
}

function correlation(options: CircuitCallOptions | undefined): { correlationId?: string } {
  return options?.correlationId !== undefined && options.correlationId !== "" ? { correlationId: options.correlationId } : {};
}

function positive(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
  return value;
}
