/**
 * `POST /session`: who the browser's credentials name and which of the
 * checks it asks about (a permission on a resource, named as in the policy)
 * that principal is granted, decided by the server's own authentication and
 * policy. The page uses it to hide what it may not do; the RPCs refuse the
 * same acts on their own.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "@bufbuild/protobuf";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { BodyTooLargeError, readBody, sendJson } from "./http-io.js";
import { sendError } from "./json-gateway.js";

/** The signed-in principal of a request. */
export interface ConsolePrincipal {
  readonly id: string;
  readonly roles: readonly string[];
}

/** How the console learns what a browser's principal may do. */
export interface ConsoleAccess {
  /** False when the server has no authentication: every check is granted. */
  readonly authEnabled: boolean;
  /** The principal the request's credentials name; undefined for none or a refused credential. */
  principalOf(request: IncomingMessage): Promise<ConsolePrincipal | undefined>;
  /** Whether `principal` holds `permission` on `resource`. */
  allows(principal: ConsolePrincipal, permission: string, resource: string): boolean;
}

/** The access of a server without authentication. */
export const OPEN_ACCESS: ConsoleAccess = {
  authEnabled: false,
  principalOf: () => Promise.resolve(undefined),
  allows: () => true,
};

const MAX_CHECKS = 200;

/** Answers one `POST /session`. */
export async function handleSession(request: IncomingMessage, response: ServerResponse, access: ConsoleAccess, registry: Registry): Promise<void> {
  if (request.method !== "POST" || (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() !== "application/json") {
    sendError(response, registry, GrpcStatus.INVALID_ARGUMENT, "POST a JSON body {checks: [{permission, resource}]}");
    return;
  }
  let checks: { permission: string; resource: string }[];
  try {
    const body = JSON.parse((await readBody(request, 64 * 1024)).toString("utf8") || "{}") as { checks?: unknown };
    const raw = body.checks ?? [];
    if (!Array.isArray(raw) || raw.length > MAX_CHECKS) throw new Error(`checks must be a list of at most ${MAX_CHECKS}`);
    checks = raw.map((c: unknown) => {
      const { permission, resource } = (c ?? {}) as { permission?: unknown; resource?: unknown };
      if (typeof permission !== "string" || typeof resource !== "string") throw new Error("each check needs a string permission and resource");
      return { permission, resource };
    });
  } catch (error) {
    const code = error instanceof BodyTooLargeError ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.INVALID_ARGUMENT;
    sendError(response, registry, code, (error as Error).message);
    return;
  }
  if (!access.authEnabled) {
    sendJson(response, 200, { authEnabled: false, principal: "", roles: [], allowed: checks.map(() => true) });
    return;
  }
  const principal = await access.principalOf(request);
  sendJson(response, 200, {
    authEnabled: true,
    principal: principal?.id ?? "",
    roles: principal?.roles ?? [],
    allowed: checks.map((c) => principal !== undefined && access.allows(principal, c.permission, c.resource)),
  });
}
