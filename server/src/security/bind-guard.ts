/**
 * The safe default: a server without TLS and authentication listens on the
 * loopback interface only. Listening anywhere else without them exposes
 * every event and every admin call to the network, so it needs an explicit
 * `--insecure` and is logged as a warning.
 */
import { isIP } from "node:net";
import type { Logger } from "../logger.js";

/** How the listener is protected. */
export interface BindProtection {
  /** TLS is on. */
  readonly tls: boolean;
  /** Some authentication is on (tokens, JWT or client certificates). */
  readonly auth: boolean;
  /** `--insecure` was given. */
  readonly insecure: boolean;
}

/** Tells whether `host` names only the local machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare === "::1") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (bare.startsWith("::ffff:")) return bare.slice(7).startsWith("127.");
  return false;
}

/**
 * Throws a RangeError when `host` is not loopback, the listener lacks TLS or
 * authentication, and `--insecure` was not given; warns when it was.
 */
export function checkBind(host: string, protection: BindProtection, logger: Logger, what = "the gRPC listener"): void {
  if (isLoopbackHost(host) || (protection.tls && protection.auth)) return;
  const missing = [protection.tls ? undefined : "TLS (--tls-cert, --tls-key)", protection.auth ? undefined : "authentication (--token-file, --jwks-url/--jwks-file or --tls-client-ca)"]
    .filter((m) => m !== undefined)
    .join(" and ");
  if (!protection.insecure) {
    throw new RangeError(`refusing to serve ${what} on ${host} without ${missing}: anyone who can reach it could read and publish every event. Configure them, bind 127.0.0.1, or pass --insecure to do it anyway`);
  }
  logger.warn(`--insecure: ${what} on ${host} has no ${missing}; anyone who can reach it can read, publish and administer everything`);
}
