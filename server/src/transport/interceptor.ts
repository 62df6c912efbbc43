/**
 * The server's interceptor contract: cross-cutting work (metrics, tracing,
 * authentication, authorization, rate limits) written once against a
 * {@link CallContext} and run for every call by one chain
 * (`server-interceptors.ts`), instead of inside each handler.
 */
import type { PeerCertificate } from "node:tls";
import type { Metadata, status } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";

/** Who is calling, as established by an authentication interceptor. */
export interface Principal {
  /** A stable identifier of the caller (a user, a service account, a certificate subject). */
  readonly id: string;
  /** The roles authorization decides on. */
  readonly roles: string[];
  /** How the caller was identified, e.g. `mtls`, `bearer`, `anonymous`. */
  readonly via: string;
}

/** The shape of a method: whether requests and responses are streamed. */
export type CallKind = "unary" | "server-stream" | "client-stream" | "bidi";

/**
 * One call as interceptors and handlers see it. It is created when the
 * call's metadata arrives and lives until the call ends; handlers read it
 * with `callContext(call)`.
 */
export interface CallContext {
  /** Fully qualified service name, e.g. `protobus.v1.EventBus`. */
  readonly service: string;
  /** Method name as in the .proto, e.g. `Publish`. */
  readonly method: string;
  /** The gRPC path, `/service/method`. */
  readonly path: string;
  /** Whether requests and responses are streamed. */
  readonly kind: CallKind;
  /** The request metadata (headers) as received. */
  readonly metadata: Metadata;
  /** The peer's address as grpc-js reports it, e.g. `127.0.0.1:53012`. */
  readonly peer: string;
  /** The client's TLS certificate, when the connection is TLS and the client presented one. */
  readonly peerCertificate?: PeerCertificate;
  /** When the call began (its metadata arrived), on the `performance.now()` clock. */
  readonly startedAt: number;
  /** When the call must be over; absent when the client set no deadline. */
  readonly deadline?: Date;
  /**
   * Aborted when the call ends for any reason (status sent, cancelled,
   * deadline passed); its `reason` is the call's final {@link CallStatus}.
   */
  readonly signal: AbortSignal;
  /** Who is calling; set by an authentication interceptor. */
  principal?: Principal;
  /** The trace context the client propagated in `traceparent`/`tracestate` metadata, when any. */
  traceContext?: Context;
  /** Free-form per-call state shared by interceptors and the handler. */
  readonly state: Map<string, unknown>;
}

/** The final status of a call, as sent to the client. */
export interface CallStatus {
  /** The gRPC status code. */
  readonly code: status;
  /** The status message. */
  readonly details?: string;
}

/**
 * One link of the chain. Every hook is optional.
 *
 * - `onCall` runs once the metadata arrived, before the handler. Throwing (or
 *   rejecting) ends the call with that error's status (a `ProtobusError`, or
 *   an object with a gRPC `code`; anything else is INTERNAL) and the handler
 *   never runs; later interceptors' `onCall` do not run either.
 * - `onMessage` runs for each inbound request message, in order, before the
 *   handler sees it (unary, client-stream and bidi calls alike). Throwing
 *   ends the call with that status; the message is not passed on.
 * - `onEnd` runs once when the call is over, with the status sent (CANCELLED
 *   when the client went away), for metrics and audit. It must not throw;
 *   a throw is ignored.
 */
export interface Interceptor {
  /** A short name for logs and diagnostics, e.g. `metrics`, `authentication`. */
  readonly name: string;
  /** Runs before the handler; may set `ctx.principal` or reject the call. */
  onCall?(ctx: CallContext): void | Promise<void>;
  /** Runs for each inbound request message; may reject the call. */
  onMessage?(ctx: CallContext, message: unknown): void | Promise<void>;
  /** Runs once with the final status. */
  onEnd?(ctx: CallContext, status: CallStatus): void;
}
