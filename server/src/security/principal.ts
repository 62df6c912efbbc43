/**
 * Who is calling: the identity an authenticator established for a call. The
 * transport's call context carries it (`ctx.principal`); `via` is `token`,
 * `jwt` or `certificate` for the built-in authenticators.
 */
export type { Principal } from "../transport/interceptor.js";
