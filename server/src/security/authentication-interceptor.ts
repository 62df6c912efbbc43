/**
 * The authentication link of the interceptor chain: every call to a method
 * that is not open (health, reflection) must present credentials an
 * {@link Authenticator} accepts, else it ends UNAUTHENTICATED before its
 * handler runs. The refusal says nothing about why; the audit trail does.
 */
import type { ProtobusError } from "@protobus/sdk";
import type { Logger } from "../logger.js";
import type { CallContext, Interceptor } from "../transport/interceptor.js";
import type { AuditLog } from "./audit-log.js";
import type { Authenticator, Credentials } from "./authenticator.js";
import { ruleOf } from "./rpc-rules.js";
import { CredentialRejected, unauthenticated } from "./security-errors.js";

/** Options of {@link authenticationInterceptor}. */
export interface AuthenticationInterceptorOptions {
  readonly authenticator: Authenticator;
  readonly audit: AuditLog;
  readonly logger: Logger;
}

/** The credentials a call presents: its `authorization` metadata and TLS client certificate. */
export function credentialsOf(ctx: CallContext): Credentials {
  const authorization = ctx.metadata.get("authorization")[0];
  return {
    ...(typeof authorization === "string" ? { authorization } : {}),
    ...(ctx.peerCertificate !== undefined ? { peerCertificate: ctx.peerCertificate } : {}),
  };
}

/** Sets `ctx.principal`, or ends the call UNAUTHENTICATED. */
export function authenticationInterceptor(options: AuthenticationInterceptorOptions): Interceptor {
  const { authenticator, audit } = options;
  const refuse = (ctx: CallContext, reason: string): ProtobusError => {
    audit.record({ principal: "anonymous", via: "", action: "authenticate", resource: ctx.path, outcome: "unauthenticated", method: ctx.path, peer: ctx.peer, reason });
    return unauthenticated();
  };
  return {
    name: "authentication",
    async onCall(ctx) {
      if (ruleOf(ctx.path)?.kind === "open") return;
      let principal;
      try {
        principal = await authenticator.authenticate(credentialsOf(ctx));
      } catch (error) {
        if (error instanceof CredentialRejected) throw refuse(ctx, error.message);
        throw error;
      }
      if (principal === undefined) throw refuse(ctx, "no credentials");
      ctx.principal = principal;
    },
  };
}
