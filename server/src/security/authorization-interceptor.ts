/**
 * The authorization link of the interceptor chain. It decides each call by
 * the rule of its method (`rpc-rules.ts`) under the policy in force:
 * requirements that follow from a request are checked on each request
 * message before the handler sees it; those that follow from the answer are
 * checked (or the answer trimmed) before it is sent. Admin actions and
 * refusals go to the audit trail.
 *
 * Open subscriptions are checked again whenever the policy changes: one
 * whose patterns or group are no longer granted ends PERMISSION_DENIED.
 */
import { codeName, type ProtobusError } from "@protobus/sdk";
import type { Logger } from "../logger.js";
import { setResponseGuard, terminate } from "../transport/call-control.js";
import type { CallContext, Interceptor } from "../transport/interceptor.js";
import type { AuditLog } from "./audit-log.js";
import { checkAccess, type Authorizer } from "./authorizer.js";
import { ruleOf, type Requirement } from "./rpc-rules.js";
import { permissionDenied } from "./security-errors.js";

/** Options of {@link authorizationInterceptor}. */
export interface AuthorizationInterceptorOptions {
  readonly authorizer: Authorizer;
  readonly audit: AuditLog;
  readonly logger: Logger;
}

/** The interceptor, and a way to stop it following policy changes. */
export interface AuthorizationInterceptor extends Interceptor {
  close(): void;
}

const ADMIN_ACTION = "protobus.audit.pending";
const SUBSCRIBE_PATH = "/protobus.v1.EventBus/Subscribe";

/** Records a refusal in the audit trail and returns the error to throw. */
function denied(audit: AuditLog, ctx: CallContext, error: ProtobusError, requirement: { permission: string; resource: string }): ProtobusError {
  const principal = ctx.principal;
  audit.record({
    principal: principal?.id ?? "anonymous",
    via: principal?.via ?? "",
    action: requirement.permission,
    resource: requirement.resource,
    outcome: "denied",
    method: ctx.path,
    peer: ctx.peer,
    reason: error.rawMessage,
  });
  return error;
}

/** Throws (and audits) PERMISSION_DENIED unless the call's principal meets every requirement. */
function check(options: AuthorizationInterceptorOptions, ctx: CallContext, requirements: readonly Requirement[]): void {
  const principal = ctx.principal;
  if (principal === undefined) throw denied(options.audit, ctx, permissionDenied("anonymous", "call", ctx.path), { permission: "call", resource: ctx.path });
  const error = checkAccess(options.authorizer.accessOf(principal), requirements);
  if (error === undefined) return;
  const metadata = error.details.find((d) => d.type === "ErrorInfo")?.value.metadata ?? {};
  throw denied(options.audit, ctx, error, { permission: metadata.permission ?? "", resource: metadata.resource ?? "" });
}

/** Records an admin action's outcome in the audit trail. */
function record(audit: AuditLog, ctx: CallContext, action: { action: string; resource: string }, outcome: string, reason?: string): void {
  audit.record({
    principal: ctx.principal?.id ?? "anonymous",
    via: ctx.principal?.via ?? "",
    action: action.action,
    resource: action.resource,
    outcome,
    method: ctx.path,
    peer: ctx.peer,
    ...(reason !== undefined ? { reason } : {}),
  });
}

/** Decides every call on `ctx.principal` (set by the authentication link). */
export function authorizationInterceptor(options: AuthorizationInterceptorOptions): AuthorizationInterceptor {
  const { authorizer, audit, logger } = options;
  const subscriptions = new Map<CallContext, readonly Requirement[]>();

  const stopFollowing = authorizer.onChange(() => {
    for (const [ctx, requirements] of subscriptions) {
      try {
        check(options, ctx, requirements);
      } catch (error) {
        subscriptions.delete(ctx);
        logger.info("ending a subscription whose rights were revoked", { principal: ctx.principal?.id, peer: ctx.peer });
        terminate(ctx, error);
      }
    }
  });

  return {
    name: "authorization",
    onCall(ctx) {
      const rule = ruleOf(ctx.path);
      if (rule === undefined) {
        throw denied(audit, ctx, permissionDenied(ctx.principal?.id ?? "anonymous", "call", ctx.path), { permission: "call", resource: ctx.path });
      }
      if (rule.kind === "response") {
        setResponseGuard(ctx, (response) => {
          check(options, ctx, rule.requires(response));
          return response;
        });
      } else if (rule.kind === "filter") {
        const principal = ctx.principal;
        if (principal === undefined) throw permissionDenied("anonymous", "call", ctx.path);
        const access = authorizer.accessOf(principal);
        setResponseGuard(ctx, (response) => rule.filter(response, (r) => checkAccess(access, [r]) === undefined));
      }
    },
    onMessage(ctx, message) {
      const rule = ruleOf(ctx.path);
      if (rule?.kind !== "request") return;
      const requirements = rule.requires(message);
      if (requirements.length === 0) return;
      const action = rule.audit?.(message);
      check(options, ctx, requirements);
      if (ctx.path === SUBSCRIBE_PATH) {
        subscriptions.set(ctx, requirements);
        // A stream lives on; its settings change is audited when it is made.
        if (action !== undefined) record(audit, ctx, action, "allowed");
      } else if (action !== undefined) ctx.state.set(ADMIN_ACTION, action);
    },
    onEnd(ctx, status) {
      subscriptions.delete(ctx);
      const action = ctx.state.get(ADMIN_ACTION) as { action: string; resource: string } | undefined;
      if (action === undefined) return;
      record(audit, ctx, action, status.code === 0 ? "ok" : codeName(status.code), status.code === 0 ? undefined : status.details);
    },
    close: stopFollowing,
  };
}
