/**
 * What interceptors may ask of a call beyond rejecting it up front, through
 * the call's context:
 * - a response guard: unary handlers pass their answer through it before
 *   sending, so that an authorization rule that depends on the answer (the
 *   type of an event read by id) can refuse or trim it;
 * - a terminator: a streaming handler registers how to end its stream with
 *   a status, so that an interceptor can end it later (a subscription whose
 *   rights were revoked by a policy reload).
 */
import type { CallContext } from "./interceptor.js";

const RESPONSE_GUARD = "protobus.response-guard";
const TERMINATOR = "protobus.terminator";

/** Checks or trims an answer; throws to refuse it. */
export type ResponseGuard = (response: unknown) => unknown;

/** Sets the guard of the call's answer (an interceptor does this in `onCall`). */
export function setResponseGuard(ctx: CallContext, guard: ResponseGuard): void {
  ctx.state.set(RESPONSE_GUARD, guard);
}

/** The answer as the call's guard lets it out; throws the guard's refusal. */
export function guardResponse<T>(ctx: CallContext | undefined, response: T): T {
  const guard = ctx?.state.get(RESPONSE_GUARD) as ResponseGuard | undefined;
  return guard === undefined ? response : (guard(response) as T);
}

/** Registers how the call's stream ends with an error (a streaming handler does this). */
export function setTerminator(ctx: CallContext, end: (error: unknown) => void): void {
  ctx.state.set(TERMINATOR, end);
}

/** Ends the call's stream with `error`; false when its handler registered no way to. */
export function terminate(ctx: CallContext, error: unknown): boolean {
  const end = ctx.state.get(TERMINATOR) as ((error: unknown) => void) | undefined;
  if (end === undefined) return false;
  end(error);
  return true;
}
