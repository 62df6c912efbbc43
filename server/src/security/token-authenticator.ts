/**
 * Authenticates `Authorization: Bearer pbt_...` against the token file. The
 * file is read again when it changes (and on `reload()`, which SIGHUP
 * calls), so a token created or revoked with the CLI counts without a
 * restart. A file that no longer parses leaves the previous tokens in force.
 */
import type { Logger } from "../logger.js";
import { bearerCredential, type Authenticator, type Credentials } from "./authenticator.js";
import { watchFiles } from "./file-watch.js";
import type { Principal } from "../transport/interceptor.js";
import { CredentialRejected } from "./security-errors.js";
import { TokenTable, readTokenFile } from "./token-file.js";

/** Options of {@link TokenAuthenticator}. */
export interface TokenAuthenticatorOptions {
  /** The token file. */
  readonly path: string;
  /** How often the file is checked for changes, in ms; 0 turns watching off. */
  readonly watchIntervalMs: number;
  readonly logger: Logger;
}

/** Bearer tokens from a file of hashes. */
export class TokenAuthenticator implements Authenticator {
  readonly name = "token";
  readonly #options: TokenAuthenticatorOptions;
  #table: TokenTable;
  readonly #stopWatching: () => void;

  /** Reads the file; throws a RangeError when it is malformed. */
  constructor(options: TokenAuthenticatorOptions) {
    this.#options = options;
    this.#table = new TokenTable(readTokenFile(options.path));
    this.#stopWatching = options.watchIntervalMs > 0 ? watchFiles([options.path], options.watchIntervalMs, () => this.reload()) : () => {};
  }

  /** Reads the token file again; on failure keeps the tokens in force and logs why. */
  reload(): boolean {
    try {
      this.#table = new TokenTable(readTokenFile(this.#options.path));
      this.#options.logger.info("token file loaded", { path: this.#options.path, tokens: this.#table.size });
      return true;
    } catch (error) {
      this.#options.logger.error("token file not reloaded; the previous tokens stay in force", { path: this.#options.path, error });
      return false;
    }
  }

  authenticate(credentials: Credentials): Promise<Principal | undefined> {
    const token = bearerCredential(credentials.authorization);
    if (token === undefined || !TokenTable.isToken(token)) return Promise.resolve(undefined);
    const result = this.#table.verify(token);
    if ("rejected" in result) return Promise.reject(new CredentialRejected(result.rejected));
    return Promise.resolve(result);
  }

  close(): void {
    this.#stopWatching();
  }
}
