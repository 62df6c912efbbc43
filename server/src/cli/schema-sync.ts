/**
 * `protobus schema sync [path]`: registers every message of a buf module
 * annotated with `(protobus.v1.event)` under its event type, in one
 * command. Every subject is checked first under its compatibility mode;
 * when any is incompatible, nothing is registered, every violation is
 * printed and the command fails. Unchanged schemas add no version.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Command, Option } from "commander";
import { createRegistryClient, descriptorSetFor, eventsInDescriptorSet, syncEventSchemas, type SchemaSyncEntry } from "@protobus/sdk";
import { connection } from "./cli-support.js";
import { buildDescriptorSet } from "./buf-build.js";

/** What the sync command needs from the program that hosts it. */
export interface SchemaSyncCommandContext {
  readonly io: { readonly out: (line: string) => void; readonly err: (line: string) => void };
  readonly addressOption: () => Option;
}

/** The annotated events of a buf module (directory), a .proto file or a descriptor set (.binpb). */
export function syncEntriesOf(path: string): SchemaSyncEntry[] {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const set = path.endsWith(".binpb") || path.endsWith(".pb") ? new Uint8Array(readFileSync(path)) : buildDescriptorSet(path);
  return eventsInDescriptorSet(set).map((event) => ({
    type: event.type,
    messageName: event.message.typeName,
    fileDescriptorSet: descriptorSetFor(event.message),
  }));
}

/** Adds `sync` to the `schema` command. */
export function addSchemaSyncCommand(schema: Command, context: SchemaSyncCommandContext): void {
  const { io, addressOption } = context;
  schema
    .command("sync")
    .description(
      "register every message annotated with (protobus.v1.event) under its event type; all are checked first, and nothing is registered when any is incompatible",
    )
    .argument("[path]", "buf module or workspace directory, .proto file, or descriptor set (.binpb)", ".")
    .option("--dry-run", "check only; register nothing")
    .option("--json", "print the report as JSON")
    .addOption(addressOption())
    .action((path: string, o: Record<string, unknown>) => runSchemaSync(path, o, io));
}

/**
 * Runs a sync of the module at `path` with the command's options
 * (`address`, `dryRun`, `json`); throws (exit code 1) when any event type is
 * incompatible. Shared by `schema sync` and `schema push --from-buf`.
 */
export async function runSchemaSync(path: string, o: Record<string, unknown>, io: SchemaSyncCommandContext["io"]): Promise<void> {
  const entries = syncEntriesOf(path);
  if (entries.length === 0) {
    io.out(`no message in ${path} is annotated with (protobus.v1.event); nothing to register`);
    return;
  }
  const client = createRegistryClient(connection(o));
  let report;
  try {
    report = await syncEventSchemas(client, entries, { dryRun: o.dryRun === true });
  } finally {
    client.close();
  }
  if (o.json === true) io.out(JSON.stringify(report));
  else {
    for (const r of report.results) {
      const version = r.version > 0 ? ` v${r.version}` : "";
      io.out(`${r.outcome.padEnd(12)} ${r.subject}${version} (${r.messageName})`);
      for (const v of r.violations) io.out(`  ${v.direction} v${v.version} ${v.rule} ${v.path}: ${v.description}`);
    }
  }
  const count = (outcome: string) => report.results.filter((r) => r.outcome === outcome).length;
  const total = report.results.length;
  if (!report.ok) {
    throw new Error(`nothing registered: ${count("incompatible")} of ${total} event types are not compatible with their registered versions`);
  }
  if (o.json !== true) {
    io.out(
      o.dryRun === true
        ? `${total} event types: all compatible (dry run, nothing registered)`
        : `${total} event types: ${count("registered")} registered, ${count("unchanged")} unchanged`,
    );
  }
}
