/**
 * Where a handler finds the {@link CallContext} of its call. The chain
 * creates the context when the call's metadata arrives and registers it
 * under that metadata object, which grpc-js hands to the handler's call
 * object unchanged; `callContext(call)` looks it up from there.
 */
import type { Metadata } from "@grpc/grpc-js";
import { Code, ProtobusError } from "@protobus/sdk";
import type { CallContext } from "./interceptor.js";

const contexts = new WeakMap<Metadata, CallContext>();

/** Registers the context of a call under its request metadata (done by the chain). */
export function registerCallContext(metadata: Metadata, ctx: CallContext): void {
  contexts.set(metadata, ctx);
}

/**
 * The context of a call, as the interceptor chain left it (principal,
 * deadline, abort signal, per-call state). Throws INTERNAL when the call did
 * not pass through the chain: a server wired without it is a bug, not a
 * reason to run a handler without its principal.
 */
export function callContext(call: { readonly metadata: Metadata }): CallContext {
  const ctx = contexts.get(call.metadata);
  if (ctx === undefined) throw new ProtobusError(Code.INTERNAL, "the call did not pass through the interceptor chain");
  return ctx;
}
