/**
 * The token file: bearer tokens stored as hashes only. `protobus token
 * create <principal>` prints a token once and stores its SHA-256; the file
 * never holds anything a reader could present.
 *
 * A token is `pbt_<id>_<secret>`: `id` finds the record, the 256-bit secret
 * is what is hashed. With that much entropy a fast hash is safe (as for
 * other high-entropy API tokens); a slow password hash would only make every
 * call slower.
 *
 * ```yaml
 * tokens:
 *   - id: k3J9x2Qm0bVw
 *     principal: planner
 *     roles: [agents]
 *     hash: sha256:Gm9w...
 *     created: 2026-01-01T00:00:00.000Z
 *     expires: 2026-04-01T00:00:00.000Z   # optional
 * ```
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { Principal } from "../transport/interceptor.js";

/** One stored token, without its secret. */
export interface TokenRecord {
  /** Public id, part of the token; names it in `token list` and `token revoke`. */
  readonly id: string;
  /** The principal the token authenticates as. */
  readonly principal: string;
  /** Roles the token carries. */
  readonly roles: readonly string[];
  /** `sha256:` and the base64url SHA-256 of the whole token. */
  readonly hash: string;
  /** When it was created. */
  readonly created: string;
  /** When it stops working; absent for never. */
  readonly expires?: string;
  /** A note for people, e.g. where the token is used. */
  readonly description?: string;
}

/** What `createToken` takes. */
export interface NewToken {
  readonly principal: string;
  readonly roles?: readonly string[];
  /** Lifetime in ms; absent for no expiry. */
  readonly ttlMs?: number;
  readonly description?: string;
}

const TOKEN_REGEX = /^pbt_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/;
const PRINCIPAL_REGEX = /^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,127}$/;

/** Why `principal` cannot name a principal, or undefined. */
export function principalNameError(principal: string): string | undefined {
  return PRINCIPAL_REGEX.test(principal) ? undefined : `'${principal.slice(0, 140)}' must be 1..128 characters of letters, digits and . _ @ : / -, starting with a letter or digit`;
}

function hashToken(token: string): string {
  return `sha256:${createHash("sha256").update(token, "utf8").digest("base64url")}`;
}

function parseRecords(text: string, path: string): TokenRecord[] {
  const parsed: unknown = parseYaml(text);
  if (parsed === null || parsed === undefined) return [];
  const tokens = (parsed as { tokens?: unknown }).tokens;
  if (typeof parsed !== "object" || (tokens !== undefined && tokens !== null && !Array.isArray(tokens))) {
    throw new RangeError(`${path}: expected 'tokens:' with a list of tokens`);
  }
  return ((tokens as unknown[] | null | undefined) ?? []).map((raw, i) => {
    const r = raw as Partial<Record<keyof TokenRecord, unknown>>;
    const where = `${path}: tokens[${i}]`;
    if (typeof r.id !== "string" || typeof r.principal !== "string" || typeof r.hash !== "string" || !r.hash.startsWith("sha256:")) {
      throw new RangeError(`${where}: needs id, principal and a sha256: hash`);
    }
    if (r.roles !== undefined && (!Array.isArray(r.roles) || !r.roles.every((x) => typeof x === "string"))) {
      throw new RangeError(`${where}: roles must be a list of names`);
    }
    if (r.expires !== undefined && Number.isNaN(Date.parse(String(r.expires)))) throw new RangeError(`${where}: expires is not a time`);
    return {
      id: r.id,
      principal: r.principal,
      roles: (r.roles as string[] | undefined) ?? [],
      hash: r.hash,
      created: String(r.created ?? ""),
      ...(r.expires !== undefined ? { expires: new Date(String(r.expires)).toISOString() } : {}),
      ...(typeof r.description === "string" ? { description: r.description } : {}),
    };
  });
}

/** Reads the records of a token file; an absent file has none. Throws a RangeError on a malformed file. */
export function readTokenFile(path: string): TokenRecord[] {
  if (!existsSync(path)) return [];
  return parseRecords(readFileSync(path, "utf8"), path);
}

function writeTokenFile(path: string, records: readonly TokenRecord[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const text =
    "# protobus bearer tokens: hashes only. Manage with `protobus token create|list|revoke`.\n" +
    stringifyYaml({ tokens: records.map((r) => ({ ...r, roles: [...r.roles] })) });
  // Write-and-rename: a server watching the file never reads half of it.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, path);
}

/**
 * A random token id (72 bits, base64url) that starts with a letter or
 * digit: one starting with `-` would read as an option on the command
 * line (`protobus token revoke <id>`).
 */
function newTokenId(): string {
  for (;;) {
    const id = randomBytes(9).toString("base64url");
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

/** Creates a token, stores its hash in `path` and returns the token (shown once) with its record. */
export function createToken(path: string, request: NewToken, now = new Date()): { token: string; record: TokenRecord } {
  const error = principalNameError(request.principal);
  if (error !== undefined) throw new RangeError(`principal ${error}`);
  for (const role of request.roles ?? []) {
    const roleError = principalNameError(role);
    if (roleError !== undefined) throw new RangeError(`role ${roleError}`);
  }
  const records = readTokenFile(path);
  const id = newTokenId();
  const token = `pbt_${id}_${randomBytes(32).toString("base64url")}`;
  const record: TokenRecord = {
    id,
    principal: request.principal,
    roles: [...(request.roles ?? [])],
    hash: hashToken(token),
    created: now.toISOString(),
    ...(request.ttlMs !== undefined ? { expires: new Date(now.getTime() + request.ttlMs).toISOString() } : {}),
    ...(request.description !== undefined ? { description: request.description } : {}),
  };
  writeTokenFile(path, [...records, record]);
  return { token, record };
}

/** Removes the tokens with this id, or every token of this principal; returns the removed records. */
export function revokeTokens(path: string, idOrPrincipal: string): TokenRecord[] {
  const records = readTokenFile(path);
  const removed = records.filter((r) => r.id === idOrPrincipal || r.principal === idOrPrincipal);
  if (removed.length > 0) writeTokenFile(path, records.filter((r) => !removed.includes(r)));
  return removed;
}

/** The verification side: records by id, checked in constant time. */
export class TokenTable {
  readonly #byId: ReadonlyMap<string, TokenRecord>;

  constructor(records: readonly TokenRecord[]) {
    this.#byId = new Map(records.map((r) => [r.id, r]));
  }

  /** How many tokens the table holds. */
  get size(): number {
    return this.#byId.size;
  }

  /** Tells whether `token` looks like a protobus token at all. */
  static isToken(token: string): boolean {
    return token.startsWith("pbt_");
  }

  /**
   * The principal of a valid token; otherwise the reason it is not one
   * (for the log, never for the caller).
   */
  verify(token: string, now = Date.now()): Principal | { rejected: string } {
    const match = TOKEN_REGEX.exec(token);
    const record = match === null ? undefined : this.#byId.get(match[1] ?? "");
    // Hash and compare even when there is no record, so that timing does not tell ids apart.
    const expected = Buffer.from(record?.hash ?? hashToken("pbt_unknown"), "utf8");
    const actual = Buffer.from(hashToken(token), "utf8");
    const equal = expected.length === actual.length && timingSafeEqual(expected, actual);
    if (match === null) return { rejected: "malformed token" };
    if (record === undefined) return { rejected: `unknown token id ${match[1] ?? ""}` };
    if (!equal) return { rejected: `wrong secret for token id ${record.id}` };
    if (record.expires !== undefined && Date.parse(record.expires) <= now) return { rejected: `token ${record.id} expired at ${record.expires}` };
    return { id: record.principal, roles: [...record.roles], via: "token" };
  }
}
