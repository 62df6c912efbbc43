/**
 * What the signed-in principal may do, asked of the console server
 * (`POST /session`), which decides with the server's own authentication and
 * policy. It only hides buttons: the RPCs behind them are refused all the
 * same to a principal without the right.
 */
import { authHeaders } from "./api.js";

/** One permission on one resource, named as in the policy (`group.dead-letters` on `billing`). */
export interface AccessCheck {
  readonly permission: string;
  readonly resource: string;
}

/** The principal and the answers to the checks asked. */
export interface Session {
  /** False when the server has no authentication: everything is allowed. */
  readonly authEnabled: boolean;
  /** The principal's id; empty when none signed in. */
  readonly principal: string;
  readonly roles: readonly string[];
  /** True for each check that is granted, in order. */
  readonly allowed: readonly boolean[];
}

/** Asks the server what the current principal may do. */
export async function session(checks: readonly AccessCheck[]): Promise<Session> {
  const response = await fetch("/session", {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeaders() },
    body: JSON.stringify({ checks }),
  });
  if (!response.ok) return { authEnabled: true, principal: "", roles: [], allowed: checks.map(() => false) };
  return (await response.json()) as Session;
}
