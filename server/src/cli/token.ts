/**
 * `protobus token create|list|revoke`: bearer tokens in the server's token
 * file. `create` prints the token once (on stdout, alone, for scripts) and
 * stores only its hash; a running server picks up changes within
 * `security-reload-interval` (or at once on SIGHUP).
 */
import type { Command } from "commander";
import { loadConfig, parseDurationMs } from "../config.js";
import { createToken, readTokenFile, revokeTokens, type TokenRecord } from "../security/token-file.js";
import { printJson, type Io } from "./cli-support.js";

function tokenFileOf(o: Record<string, unknown>): string {
  const config = loadConfig({
    flags: { "token-file": o.tokenFile as string | undefined },
    ...(o.config !== undefined ? { configFile: o.config as string } : {}),
  });
  if (config.tokenFile === "") throw new Error("no token file: pass --token-file <path> (or set token-file in protobus.yaml, or PROTOBUS_TOKEN_FILE)");
  return config.tokenFile;
}

function line(r: TokenRecord): string {
  return `${r.id} principal=${r.principal} roles=${r.roles.join(",")} created=${r.created}${r.expires === undefined ? "" : ` expires=${r.expires}`}${r.description === undefined ? "" : ` description=${JSON.stringify(r.description)}`}`;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds the `token` command tree. */
export function registerTokenCommands(program: Command, io: Io): void {
  const token = program.command("token").description("create, list and revoke bearer tokens of the server's token file");
  const fileOptions = (command: Command): Command =>
    command
      .option("--token-file <path>", "the token file (default: token-file of protobus.yaml or PROTOBUS_TOKEN_FILE)")
      .option("-c, --config <file>", "config file [env PROTOBUS_CONFIG] (default ./protobus.yaml when present)");

  fileOptions(
    token
      .command("create")
      .description("create a token for a principal; prints it once, stores its hash")
      .argument("<principal>", "the principal the token authenticates as (policies grant to it)")
      .option("-r, --role <role>", "a role the token carries (repeatable)", collect)
      .option("--expires <duration>", "lifetime, e.g. 720h or 90m (default: never)")
      .option("--description <text>", "a note, e.g. where the token is used")
      .option("--json", "print the token and its record as JSON"),
  ).action((principal: string, o: Record<string, unknown>) => {
    const path = tokenFileOf(o);
    const { token: secret, record } = createToken(path, {
      principal,
      roles: (o.role as string[] | undefined) ?? [],
      ...(o.expires !== undefined ? { ttlMs: parseDurationMs(o.expires as string, "--expires") } : {}),
      ...(o.description !== undefined ? { description: o.description as string } : {}),
    });
    if (o.json === true) io.out(printJson({ token: secret, ...record }));
    else {
      io.out(secret);
      io.err(`token ${record.id} for principal '${principal}' stored in ${path}; it is shown only now: keep it secret`);
    }
  });

  fileOptions(token.command("list").description("list tokens (ids, principals, roles; never secrets)").option("--json", "one JSON object per line")).action(
    (o: Record<string, unknown>) => {
      for (const record of readTokenFile(tokenFileOf(o))) {
        const { hash: _hash, ...shown } = record;
        io.out(o.json === true ? printJson(shown) : line(record));
      }
    },
  );

  fileOptions(
    token
      .command("revoke")
      .description("revoke a token by id, or every token of a principal")
      .argument("<id-or-principal>", "a token id (from `token list`) or a principal"),
  ).action((target: string, o: Record<string, unknown>) => {
    const removed = revokeTokens(tokenFileOf(o), target);
    if (removed.length === 0) throw new Error(`no token has id or principal '${target}'`);
    for (const r of removed) io.out(`revoked ${r.id} (principal ${r.principal})`);
  });
}
