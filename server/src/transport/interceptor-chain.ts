/**
 * Runs a list of {@link Interceptor}s as one grpc-js server interceptor:
 * builds the call's {@link CallContext}, runs every `onCall` in order before
 * the handler, every `onMessage` in order for each inbound message (messages
 * stay in order even when a hook is asynchronous), and every `onEnd` once
 * with the final status. A hook that throws ends the call with that error's
 * status; the handler never sees the metadata or the message.
 *
 * Synchronous hooks cost no extra turn of the event loop: the call proceeds
 * in the same tick unless a hook returns a promise.
 */
import { isRefusedRequest, refusedRequest } from "./request-guard.js";
import { isDeferredRequest, requestLane } from "./request-lane.js";
import {
  ServerInterceptingCall,
  status as grpcStatus,
  type Metadata,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerMethodDefinition,
} from "@grpc/grpc-js";
import type { Logger } from "../logger.js";
import { registerCallContext } from "./call-context.js";
import type { CallContext, CallKind, CallStatus, Interceptor } from "./interceptor.js";
import { failureStatus } from "./status.js";
import type { WaitingRequests } from "./waiting-requests.js";

type Hook = (interceptor: Interceptor) => void | Promise<void>;

/**
 * Runs `hook` on each interceptor in order. Returns undefined when every
 * hook finished synchronously, else a promise of the rest; a synchronous
 * throw propagates at once.
 */
function runInOrder(interceptors: readonly Interceptor[], hook: Hook, from = 0): void | Promise<void> {
  for (let i = from; i < interceptors.length; i++) {
    const result = hook(interceptors[i] as Interceptor);
    if (result instanceof Promise) return result.then(() => runInOrder(interceptors, hook, i + 1));
  }
  return undefined;
}

/** The kind of a method from its definition's streaming flags. */
export function callKind(method: Pick<ServerMethodDefinition<unknown, unknown>, "requestStream" | "responseStream">): CallKind {
  if (method.requestStream) return method.responseStream ? "bidi" : "client-stream";
  return method.responseStream ? "server-stream" : "unary";
}

function createContext(
  method: ServerMethodDefinition<unknown, unknown>,
  call: ServerInterceptingCallInterface,
  metadata: Metadata,
  signal: () => AbortSignal,
): CallContext {
  const [, service = "", name = ""] = method.path.split("/");
  const deadline = call.getDeadline();
  const certificate = call.getAuthContext().sslPeerCertificate;
  const hasCertificate = certificate !== undefined && Object.keys(certificate).length > 0;
  return {
    service,
    method: name,
    path: method.path,
    kind: callKind(method),
    metadata,
    peer: call.getPeer(),
    startedAt: performance.now(),
    ...(hasCertificate ? { peerCertificate: certificate } : {}),
    ...(deadline instanceof Date ? { deadline } : Number.isFinite(deadline) ? { deadline: new Date(deadline) } : {}),
    get signal() {
      return signal();
    },
    state: new Map(),
  };
}

const CANCELLED = { code: grpcStatus.CANCELLED, details: "cancelled by the client" } as const;
const DEADLINE_EXCEEDED = { code: grpcStatus.DEADLINE_EXCEEDED, details: "deadline exceeded" } as const;

/**
 * Whether the client already cancelled the call. grpc-js's own call (the
 * next one when this chain is the server's only interceptor) answers
 * `checkCancelled()`; any other call is taken as not cancelled.
 */
function wasCancelled(call: ServerInterceptingCallInterface): boolean {
  const probe = call as { checkCancelled?: () => unknown };
  return typeof probe.checkCancelled === "function" && probe.checkCancelled() === true;
}

/** Options of {@link interceptorChain}. */
export interface InterceptorChainOptions {
  /** Where failures without a status (bugs in an interceptor) are logged. */
  readonly logger: Logger;
  /** Bounds the large requests waiting for their turn (see waiting-requests.ts); unbounded when absent. */
  readonly waiting?: WaitingRequests;
}

/** One call going through the chain. */
class ChainedCall {
  readonly #interceptors: readonly Interceptor[];
  readonly #method: ServerMethodDefinition<unknown, unknown>;
  readonly #next: ServerInterceptingCallInterface;
  readonly #logger: Logger;
  readonly #waiting: WaitingRequests | undefined;
  // Created when a hook or handler first reads `ctx.signal`: most calls
  // never do, and creating and aborting one per call costs a unary call
  // about a tenth of its server CPU.
  #abort: AbortController | undefined;
  /** The status the call ended with; undefined while it runs. */
  #final: CallStatus | undefined;
  readonly call: ServerInterceptingCall;
  #ctx: CallContext | undefined;
  #messages: Promise<void> | undefined;
  /** The encoded sizes of this call's large requests that hold the request lane's bytes, oldest first. */
  #held: number[] | undefined;

  constructor(interceptors: readonly Interceptor[], method: ServerMethodDefinition<unknown, unknown>, next: ServerInterceptingCallInterface, options: InterceptorChainOptions) {
    this.#interceptors = interceptors;
    this.#method = method;
    this.#next = next;
    this.#logger = options.logger;
    this.#waiting = options.waiting;
    this.call = new ServerInterceptingCall(next, {
      start: (start) =>
        start({
          onReceiveMetadata: (metadata, pass) => this.#onMetadata(metadata, pass),
          onReceiveMessage: (message, pass) => this.#onMessage(message, pass),
          onCancel: () => this.#end(this.#pastDeadline() ? DEADLINE_EXCEEDED : CANCELLED),
        }),
      sendMessage: (message, pass) => {
        // A response answers the oldest large request of the call still held.
        const bytes = this.#held?.shift();
        if (bytes !== undefined) requestLane.release(bytes);
        pass(message);
      },
      sendStatus: (status, pass) => {
        // A status sent after the client cancelled never reaches it (grpc-js
        // drops it): the call ended CANCELLED, whatever the handler said.
        const cancelled = wasCancelled(next);
        pass(status);
        this.#end(cancelled ? CANCELLED : status);
      },
    });
  }

  #onMetadata(metadata: Metadata, pass: (metadata: Metadata) => void): void {
    const ctx = createContext(this.#method, this.#next, metadata, () => this.#signal());
    this.#ctx = ctx;
    registerCallContext(metadata, ctx);
    void this.#guard(
      () => runInOrder(this.#interceptors, (i) => i.onCall?.(ctx)),
      () => pass(metadata),
    );
  }

  #onMessage(received: unknown, pass: (message: unknown) => void): void {
    const ctx = this.#ctx;
    if (this.#ended || ctx === undefined) return;
    const check = (message: unknown): void | Promise<void> => {
      // A request the guard refused has no fields to look at: its handler answers INVALID_ARGUMENT.
      const inspect = isRefusedRequest(message) ? () => undefined : () => runInOrder(this.#interceptors, (i) => i.onMessage?.(ctx, message));
      return this.#guard(inspect, () => pass(message));
    };
    // A large request waits within the budget (waiting-requests.ts), or is refused in its place.
    const refusal = isDeferredRequest(received) ? this.#waiting?.admit(ctx.peer, received.bytes.length) : undefined;
    // A large request is decoded, inspected and handed on in its turn (request-lane.ts),
    // holding its bytes until the call answers it or ends; connections take turns.
    const run =
      refusal === undefined && isDeferredRequest(received)
        ? () =>
            requestLane.run(
              received.bytes.length,
              () => {
                this.#waiting?.release(ctx.peer, received.bytes.length);
                if (this.#ended) return requestLane.release(received.bytes.length);
                (this.#held ??= []).push(received.bytes.length);
                return check(received.decode());
              },
              ctx.peer,
            )
        : () => check(refusal === undefined ? received : refusedRequest(refusal));
    if (this.#messages !== undefined) {
      const queued = this.#messages.then(run);
      this.#messages = queued;
      void queued.then(() => {
        if (this.#messages === queued) this.#messages = undefined;
      });
      return;
    }
    const pending = run();
    if (pending instanceof Promise) {
      this.#messages = pending;
      void pending.then(() => {
        if (this.#messages === pending) this.#messages = undefined;
      });
    }
  }

  /**
   * Runs the hooks, then `proceed` unless the call ended meanwhile; a
   * failure ends the call with its status. Never rejects.
   */
  #guard(hooks: () => void | Promise<void>, proceed: () => void): void | Promise<void> {
    let pending: void | Promise<void>;
    try {
      pending = hooks();
    } catch (error) {
      this.#reject(error);
      return undefined;
    }
    if (!(pending instanceof Promise)) {
      if (!this.#ended) proceed();
      return undefined;
    }
    return pending.then(
      () => {
        if (!this.#ended) proceed();
      },
      (error: unknown) => this.#reject(error),
    );
  }

  /** grpc-js ends a call whose deadline passed by itself; it then reads as cancelled. */
  #pastDeadline(): boolean {
    const deadline = this.#ctx?.deadline;
    return deadline !== undefined && deadline.getTime() <= Date.now();
  }

  /** Whether the call is over (its final status is known). */
  get #ended(): boolean {
    return this.#final !== undefined;
  }

  /** The call's abort signal: aborted, with the final status as its reason, once the call ends. */
  #signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#final !== undefined) this.#abort.abort(this.#final);
    }
    return this.#abort.signal;
  }

  #reject(error: unknown): void {
    if (this.#ended) return;
    this.call.sendStatus(failureStatus(error, this.#logger, this.#ctx?.method ?? this.#method.path));
  }

  #end(status: { code?: grpcStatus; details?: string }): void {
    if (this.#ended) return;
    const ctx = this.#ctx;
    const final: CallStatus = { code: status.code ?? grpcStatus.UNKNOWN, ...(status.details !== undefined ? { details: status.details } : {}) };
    this.#final = final;
    for (const bytes of this.#held?.splice(0) ?? []) requestLane.release(bytes);
    // A reason of our own: aborting without one builds a DOMException with its stack.
    this.#abort?.abort(final);
    if (ctx === undefined) return;
    for (const interceptor of this.#interceptors) {
      try {
        interceptor.onEnd?.(ctx, final);
      } catch (error) {
        this.#logger.warn(`interceptor ${interceptor.name} failed in onEnd`, { error });
      }
    }
  }
}

/**
 * The grpc-js server interceptor that runs `interceptors` in order for
 * every call (pass it in `new Server({ interceptors: [...] })`).
 */
export function interceptorChain(interceptors: readonly Interceptor[], options: InterceptorChainOptions): ServerInterceptor {
  const list = [...interceptors];
  return (method, next) => new ChainedCall(list, method as ServerMethodDefinition<unknown, unknown>, next, options).call;
}
