/**
 * The console's view of a server's security: who a browser's credentials
 * name and what that principal may do, decided by the same authenticators
 * and policy as every gRPC call.
 */
import { authenticateHttp } from "../security/http-auth.js";
import { Permission } from "../security/permission.js";
import type { Security } from "../security/security-setup.js";
import { OPEN_ACCESS, type ConsoleAccess } from "./session.js";

const PERMISSIONS = new Set<string>(Object.values(Permission));

/** The console access of `security`: everything allowed when authentication is off. */
export function consoleAccess(security: Security): ConsoleAccess {
  const authenticator = security.authenticator;
  if (authenticator === undefined) return OPEN_ACCESS;
  return {
    authEnabled: true,
    principalOf: async (request) => {
      const result = await authenticateHttp(authenticator, request);
      return "refused" in result ? undefined : result;
    },
    allows: (principal, permission, resource) =>
      PERMISSIONS.has(permission) && security.authorizer.accessOf({ id: principal.id, roles: [...principal.roles], via: "console" }).allows(permission as Permission, resource),
  };
}
