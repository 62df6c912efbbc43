/**
 * Retries of idempotent unary calls. A call that fails with UNAVAILABLE is
 * tried again after the server's `google.rpc.RetryInfo` delay when it sent
 * one, else after an exponential backoff with jitter; RESOURCE_EXHAUSTED
 * and ABORTED are retried only when the server said when (RetryInfo). No
 * attempt starts after the call's deadline. A unary write the server refuses
 * whole when it is busy (`Publish`: rate limits, the budget of large requests
 * waiting) is sent again only after such a refusal, RESOURCE_EXHAUSTED with
 * RetryInfo, which says that nothing of it was applied; after any other
 * failure it is not. Streams and other calls pass through untouched: a
 * write that may have been applied is never sent twice.
 */
import {
  InterceptingCall,
  Metadata,
  status,
  type InterceptingListener,
  type Interceptor,
  type InterceptorOptions,
  type NextCall,
  type StatusObject,
} from "@grpc/grpc-js";
import { decodeStatusDetails } from "../status-details.js";
import { retryDelayMs } from "./retry-info.js";

/** The reads of `protobus.v1.EventBus` and `protobus.v1.SchemaRegistry`: safe to send again. */
export const IDEMPOTENT_METHODS: readonly string[] = [
  "/protobus.v1.EventBus/QueryEvents",
  "/protobus.v1.EventBus/GetEvent",
  "/protobus.v1.EventBus/GetBusInfo",
  "/protobus.v1.EventBus/GetFlow",
  "/protobus.v1.EventBus/ListGroups",
  "/protobus.v1.EventBus/GetGroup",
  "/protobus.v1.EventBus/ListDeadLetters",
  "/protobus.v1.EventBus/GetDeliveryStats",
  "/protobus.v1.SchemaRegistry/GetSchema",
  "/protobus.v1.SchemaRegistry/ListSchemas",
  "/protobus.v1.SchemaRegistry/ListVersions",
  "/protobus.v1.SchemaRegistry/CheckCompatibility",
  "/protobus.v1.SchemaRegistry/GetCompatibility",
];

/**
 * Unary writes the server refuses whole with RESOURCE_EXHAUSTED and
 * RetryInfo (nothing of them applied): retried after such a refusal only.
 */
export const REFUSED_WHOLE_METHODS: readonly string[] = ["/protobus.v1.EventBus/Publish"];

/** How calls are retried. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 3; 1 turns retries off). */
  readonly maxAttempts?: number;
  /** Backoff before the second attempt when the server gave no delay, in ms (default 100; doubles each time). */
  readonly initialBackoffMs?: number;
  /** Longest backoff, in ms (default 2000). */
  readonly maxBackoffMs?: number;
  /** Paths (`/package.Service/Method`) safe to send twice; {@link IDEMPOTENT_METHODS} by default. */
  readonly idempotentMethods?: readonly string[];
  /** Paths of writes sent again after a RESOURCE_EXHAUSTED with RetryInfo only; {@link REFUSED_WHOLE_METHODS} by default. */
  readonly refusedWholeMethods?: readonly string[];
}

interface Policy {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/**
 * The delay before attempt `attempt + 1`, or undefined when the failure is
 * not to be retried; `refusalsOnly` retries RESOURCE_EXHAUSTED with
 * RetryInfo and nothing else.
 */
export function retryDelay(policy: Policy, attempt: number, failure: Pick<StatusObject, "code" | "metadata">, refusalsOnly = false): number | undefined {
  if (attempt >= policy.maxAttempts) return undefined;
  if (refusalsOnly && failure.code !== status.RESOURCE_EXHAUSTED) return undefined;
  const hinted = retryDelayMs(decodeStatusDetails(failure.metadata));
  if (failure.code === status.RESOURCE_EXHAUSTED || failure.code === status.ABORTED) return hinted;
  if (failure.code !== status.UNAVAILABLE) return undefined;
  if (hinted !== undefined) return hinted;
  const backoff = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  return backoff * (0.8 + Math.random() * 0.4);
}

function deadlineMs(options: InterceptorOptions): number {
  const deadline = options.deadline;
  if (deadline === undefined) return Infinity;
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/** What an attempt received, held until the call's outcome is known. */
interface Received {
  metadata?: Metadata;
  message?: unknown;
  hasMessage: boolean;
}

/**
 * One retried unary call: the request is kept, each attempt's answer is
 * held until it succeeds or is not retried, then passed on once.
 */
class RetryingCall {
  readonly #policy: Policy;
  readonly #refusalsOnly: boolean;
  readonly #options: InterceptorOptions;
  readonly #nextCall: NextCall;
  #listener: InterceptingListener | undefined;
  #metadata = new Metadata();
  #message: unknown;
  #retry: ReturnType<NextCall> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(policy: Policy, options: InterceptorOptions, nextCall: NextCall, refusalsOnly: boolean) {
    this.#policy = policy;
    this.#refusalsOnly = refusalsOnly;
    this.#options = options;
    this.#nextCall = nextCall;
  }

  /** The call grpc-js drives; its first attempt is the next call of the chain. */
  intercepting(): InterceptingCall {
    const first: Received = { hasMessage: false };
    return new InterceptingCall(this.#nextCall(this.#options), {
      start: (metadata, listener, next) => {
        // The caller's listener hears only the outcome, not each attempt.
        this.#listener = listener;
        this.#metadata = metadata.clone();
        const attempt: InterceptingListener = {
          onReceiveMetadata: (m: Metadata) => (first.metadata = m),
          onReceiveMessage: (m: unknown) => Object.assign(first, { message: m, hasMessage: true }),
          onReceiveStatus: (s: StatusObject) => this.#outcome(1, first, s),
        };
        next(metadata, attempt);
      },
      sendMessage: (message, next) => {
        this.#message = message;
        next(message);
      },
      cancel: (next) => {
        next();
        // A retry in wait or in flight is the caller's call now: end it too.
        if (this.#timer !== undefined || this.#retry !== undefined) {
          clearTimeout(this.#timer);
          this.#retry?.cancelWithStatus(status.CANCELLED, "cancelled by the caller");
          this.#deliver({ hasMessage: false }, { code: status.CANCELLED, details: "cancelled by the caller", metadata: new Metadata() });
        }
      },
    });
  }

  #outcome(attempt: number, received: Received, final: StatusObject): void {
    this.#retry = undefined;
    const delay = final.code === status.OK || this.#done ? undefined : retryDelay(this.#policy, attempt, final, this.#refusalsOnly);
    if (delay === undefined || Date.now() + delay >= deadlineMs(this.#options)) return this.#deliver(received, final);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#done) this.#attempt(attempt + 1);
    }, delay);
  }

  #attempt(attempt: number): void {
    const received: Received = { hasMessage: false };
    const call = this.#nextCall(this.#options);
    this.#retry = call;
    call.start(this.#metadata.clone(), {
      onReceiveMetadata: (m) => (received.metadata = m),
      onReceiveMessage: (m) => Object.assign(received, { message: m, hasMessage: true }),
      onReceiveStatus: (s) => {
        if (this.#retry === call) this.#outcome(attempt, received, s);
      },
    });
    call.sendMessage(this.#message);
    call.halfClose();
  }

  #deliver(received: Received, final: StatusObject): void {
    if (this.#done) return;
    this.#done = true;
    const listener = this.#listener;
    if (listener === undefined) return;
    if (received.metadata !== undefined) listener.onReceiveMetadata(received.metadata);
    if (received.hasMessage) listener.onReceiveMessage(received.message);
    listener.onReceiveStatus(final);
  }
}

/** A grpc-js client interceptor retrying unary calls as described above. */
export function retryInterceptor(options: RetryOptions = {}): Interceptor {
  const policy: Policy = {
    maxAttempts: Math.max(1, options.maxAttempts ?? 3),
    initialBackoffMs: options.initialBackoffMs ?? 100,
    maxBackoffMs: options.maxBackoffMs ?? 2000,
  };
  const idempotent = new Set(options.idempotentMethods ?? IDEMPOTENT_METHODS);
  const refusedWhole = new Set(options.refusedWholeMethods ?? REFUSED_WHOLE_METHODS);
  return (callOptions, nextCall) => {
    const method = callOptions.method_definition;
    const retried = idempotent.has(method.path) || refusedWhole.has(method.path);
    if (policy.maxAttempts === 1 || method.requestStream || method.responseStream || !retried) {
      return new InterceptingCall(nextCall(callOptions));
    }
    return new RetryingCall(policy, callOptions, nextCall, !idempotent.has(method.path)).intercepting();
  };
}
