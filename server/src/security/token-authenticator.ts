/**
 * Authenticates `Authorization: Bearer pbt_...` against the token file. The
 * file is read again when it changes (and on `reload()`, which SIGHUP
 * calls), so a token created or revoked with the CLI counts without a
 * restart. A file that no longer parses leaves the previous tokens in force.
 */
import type { Logger } from "../logger.js";
import { bearerCredential, type Authenticator, type Credentials } from "./authenticator.js";
import { FileBackedValue } from "./file-backed-value.js";
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
  readonly #table: FileBackedValue<TokenTable>;

  /** Reads the file; throws a RangeError when it is malformed. */
  constructor(options: TokenAuthenticatorOptions) {
    const { path } = options;
    this.#table = new FileBackedValue({
      paths: [path],
      watchIntervalMs: options.watchIntervalMs,
      logger: options.logger,
      read: () => new TokenTable(readTokenFile(path)),
      failedMessage: "token file not reloaded; the previous tokens stay in force",
      loadedMessage: "token file loaded",
      logFields: { path },
      loadedFields: (table) => ({ tokens: table.size }),
    });
  }

  /** Reads the token file again; on failure keeps the tokens in force and logs why. */
  reload(): boolean {
    return this.#table.reload();
  }

  authenticate(credentials: Credentials): Promise<Principal | undefined> {
    const token = bearerCredential(credentials.authorization);
    if (token === undefined || !TokenTable.isToken(token)) return Promise.resolve(undefined);
    const result = this.#table.current.verify(token);
    if ("rejected" in result) return Promise.reject(new CredentialRejected(result.rejected));
    return Promise.resolve(result);
  }

  close(): void {
    this.#table.close();
  }
}
