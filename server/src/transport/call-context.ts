/**
 * Where a handler finds the {@link CallContext} of its call. The chain
 * creates the context when the call's metadata arrives and attaches it to
 * that metadata object, which grpc-js hands to the handler's call object
 * unchanged; `callContext(call)` reads it from there.
 *
 * The context is a property of the metadata (under a symbol of this
 * module's own), not an entry of a WeakMap: a weak table with an entry per
 * call keeps each entry until the collector clears it, and every
 * young-generation collection walks those entries (a unary publisher at
 * thousands of calls a second paid for it in pauses).
 */
import type { Metadata } from "@grpc/grpc-js";
import { Code, ProtobusError } from "@protobus/sdk";
import type { CallContext } from "./interceptor.js";

const CONTEXT = Symbol("protobus.callContext");

/** Request metadata with the context the chain attached. */
interface WithContext {
  [CONTEXT]?: CallContext;
}

/** Attaches the context of a call to its request metadata (done by the chain). */
export function registerCallContext(metadata: Metadata, ctx: CallContext): void {
  (metadata as Metadata & WithContext)[CONTEXT] = ctx;
}

/**
 * The context of a call, as the interceptor chain left it (principal,
 * deadline, abort signal, per-call state). Throws INTERNAL when the call did
 * not pass through the chain: a server wired without it is a bug, not a
 * reason to run a handler without its principal.
 */
export function callContext(call: { readonly metadata: Metadata }): CallContext {
  const ctx = (call.metadata as Metadata & WithContext)[CONTEXT];
  if (ctx === undefined) throw new ProtobusError(Code.INTERNAL, "the call did not pass through the interceptor chain");
  return ctx;
}
