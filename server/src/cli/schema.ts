/**
 * `protobus schema ...`: push, list, get, check and delete schemas, and set
 * compatibility modes, through the server's SchemaRegistry. Protobuf schemas
 * are built into a descriptor set with `buf build` (the buf binary from
 * node_modules, `PROTOBUS_BUF`, or PATH).
 */
import { existsSync, readFileSync } from "node:fs";
import type { Command, Option } from "commander";
import { buildDescriptorSet } from "./buf-build.js";
import { addSchemaSyncCommand, runSchemaSync } from "./schema-sync.js";
import { COMPATIBILITY_MODES, createRegistryClient, type CompatibilityMode, type RegisteredSchema, type SchemaDefinition } from "@protobus/sdk";
import { asCompatibilityMode } from "@protobus/sdk/internal";
import { connection } from "./cli-support.js";

/** What the schema commands need from the program that hosts them. */
export interface SchemaCommandContext {
  readonly io: { readonly out: (line: string) => void; readonly err: (line: string) => void };
  /** The `--address` option, shared with the other client commands. */
  readonly addressOption: () => Option;
}

/** Reads what `push` and `check` take: a .json JSON Schema, a .binpb descriptor set, or a .proto file or directory. */
export function loadDefinition(path: string, message: string | undefined): SchemaDefinition {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  if (path.endsWith(".json")) return { jsonSchema: readFileSync(path, "utf8") };
  if (message === undefined || message === "") {
    throw new Error("a Protobuf schema needs --message <fully.qualified.MessageName>");
  }
  const fileDescriptorSet = path.endsWith(".binpb") || path.endsWith(".pb") ? new Uint8Array(readFileSync(path)) : buildDescriptorSet(path);
  return { protobuf: { fileDescriptorSet, messageName: message } };
}

function parseMode(raw: string): CompatibilityMode {
  const mode = raw.toUpperCase().replace(/^COMPATIBILITY_/, "");
  const known = asCompatibilityMode(mode);
  if (known === undefined) throw new Error(`unknown compatibility mode '${raw}' (one of ${COMPATIBILITY_MODES.join(", ")})`);
  return known;
}

function describeSchema(schema: RegisteredSchema): string {
  const what = "protobuf" in schema.definition ? schema.definition.protobuf.messageName : "JSON Schema";
  return `${schema.subject} v${schema.version} ${schema.format} ${what}${schema.deleted ? " (deleted)" : ""}`;
}

function schemaJson(schema: RegisteredSchema): Record<string, unknown> {
  const definition =
    "protobuf" in schema.definition
      ? {
          messageName: schema.definition.protobuf.messageName,
          fileDescriptorSet: Buffer.from(schema.definition.protobuf.fileDescriptorSet).toString("base64"),
        }
      : { jsonSchema: JSON.parse(String(schema.definition.jsonSchema)) as unknown };
  return {
    subject: schema.subject,
    version: schema.version,
    format: schema.format,
    ...definition,
    createTime: schema.createTime?.toISOString(),
    deleted: schema.deleted,
  };
}

/** Runs `run` with a registry client for the command's connection options, closing it after. */
async function withClient<T>(o: Record<string, unknown>, run: (client: ReturnType<typeof createRegistryClient>) => Promise<T>): Promise<T> {
  const client = createRegistryClient(connection(o));
  try {
    return await run(client);
  } finally {
    client.close();
  }
}

/** Adds `schema push|list|get|versions|check|mode|delete` to the program. */
export function addSchemaCommands(program: Command, context: SchemaCommandContext): void {
  const schema = program.command("schema").description("manage the schema registry: push, sync, list, get, check, mode, delete");
  addSchemaWriteCommands(schema, context);
  addSchemaReadCommands(schema, context);
  addSchemaAdminCommands(schema, context);
}

/** `schema push` and `schema check`. */
function addSchemaWriteCommands(schema: Command, context: SchemaCommandContext): void {
  const { io, addressOption } = context;
  schema
    .command("push")
    .description("register a schema version: a JSON Schema (.json), or a Protobuf message from a proto directory, .proto file or .binpb; --from-buf registers every annotated message")
    .argument("<path>", "proto directory, .proto file, descriptor set (.binpb) or JSON Schema (.json)")
    .option("--subject <subject>", "event type (agent.task.created), pattern (agent.task.*) or _base")
    .option("--message <name>", "fully qualified Protobuf message, e.g. examples.agents.v1.TaskCreated")
    .option("--from-buf", "register every (protobus.v1.event) message of the buf module at <path> under its event type (same as `schema sync`)")
    .option("--json", "print the result as JSON")
    .addOption(addressOption())
    .action(async (path: string, o: Record<string, unknown>) => {
      if (o.fromBuf === true) {
        if (o.subject !== undefined || o.message !== undefined) throw new Error("--from-buf takes each subject and message from (protobus.v1.event); drop --subject and --message");
        await runSchemaSync(path, o, io);
        return;
      }
      if (o.subject === undefined) throw new Error("--subject is required (or use --from-buf to register every annotated message)");
      const definition = loadDefinition(path, o.message as string | undefined);
      const result = await withClient(o, (c) => c.register(o.subject as string, definition));
      if (o.json === true) io.out(JSON.stringify({ ...schemaJson(result.schema), alreadyRegistered: result.alreadyRegistered }));
      else io.out(`${result.alreadyRegistered ? "already registered" : "registered"} ${describeSchema(result.schema)}`);
    });

  addSchemaSyncCommand(schema, context);

  schema
    .command("check")
    .description("dry run of push: print every compatibility violation; exits 1 when incompatible")
    .argument("<path>", "proto directory, .proto file, descriptor set (.binpb) or JSON Schema (.json)")
    .requiredOption("--subject <subject>", "subject to check against")
    .option("--message <name>", "fully qualified Protobuf message")
    .option("--mode <mode>", "check under this mode instead of the subject's")
    .option("--json", "print the report as JSON")
    .addOption(addressOption())
    .action(async (path: string, o: Record<string, unknown>) => {
      const definition = loadDefinition(path, o.message as string | undefined);
      const report = await withClient(o, (c) =>
        c.check(o.subject as string, definition, o.mode === undefined ? {} : { mode: parseMode(o.mode as string) }),
      );
      if (o.json === true) io.out(JSON.stringify(report));
      else {
        for (const v of report.violations) io.out(`${v.direction} v${v.version} ${v.rule} ${v.path}: ${v.description}`);
        const against = report.checkedVersions.length === 0 ? "no existing version" : `version ${report.checkedVersions.join(", ")}`;
        io.out(`${report.compatible ? "compatible" : `NOT compatible (${report.violations.length} violations)`} under ${report.mode} against ${against}`);
      }
      if (!report.compatible) throw new Error(`${o.subject as string}: the schema is not ${report.mode} compatible`);
    });
}

/** `schema list`, `schema get` and `schema versions`. */
function addSchemaReadCommands(schema: Command, context: SchemaCommandContext): void {
  const { io, addressOption } = context;
  schema
    .command("list")
    .description("the latest version of every subject")
    .option("--prefix <prefix>", "only subjects starting with this")
    .option("--include-deleted", "also subjects whose versions are all deleted")
    .option("--json", "one JSON object per line")
    .addOption(addressOption())
    .action(async (o: Record<string, unknown>) => {
      const schemas = await withClient(o, (c) =>
        c.list({ ...(o.prefix !== undefined ? { prefix: o.prefix as string } : {}), includeDeleted: o.includeDeleted === true }),
      );
      for (const s of schemas) io.out(o.json === true ? JSON.stringify(schemaJson(s)) : describeSchema(s));
    });

  schema
    .command("get")
    .description("print a subject's latest version (or --version N), definition included")
    .argument("<subject>", "the subject")
    .option("--version <n>", "this version", (v) => Number(v))
    .addOption(addressOption())
    .action(async (subject: string, o: Record<string, unknown>) => {
      const s = await withClient(o, (c) => c.get(subject, o.version as number | undefined));
      io.out(JSON.stringify(schemaJson(s), null, 2));
    });

  schema
    .command("versions")
    .description("every version of a subject, oldest first")
    .argument("<subject>", "the subject")
    .option("--include-deleted", "also deleted versions")
    .addOption(addressOption())
    .action(async (subject: string, o: Record<string, unknown>) => {
      const versions = await withClient(o, (c) => c.versions(subject, { includeDeleted: o.includeDeleted === true }));
      for (const s of versions) io.out(`${describeSchema(s)} ${s.createTime?.toISOString() ?? ""}`);
    });
}

/** `schema mode` and `schema delete`. */
function addSchemaAdminCommands(schema: Command, context: SchemaCommandContext): void {
  const { io, addressOption } = context;
  schema
    .command("mode")
    .description("show or set a compatibility mode: `mode <subject> [MODE]`, `mode --global [MODE]`, `mode <subject> --clear`")
    .argument("[args...]", "subject and/or mode")
    .option("--global", "the global mode")
    .option("--clear", "remove the subject's own mode (it inherits the global one)")
    .addOption(addressOption())
    .action(async (args: string[], o: Record<string, unknown>) => {
      const global = o.global === true;
      const subject = global ? undefined : args[0];
      const rawMode = global ? args[0] : args[1];
      if (!global && subject === undefined) throw new Error("name a subject, or use --global");
      const info = await withClient(o, (c) => {
        if (o.clear === true) return c.setCompatibility(subject, undefined);
        return rawMode === undefined ? c.getCompatibility(subject) : c.setCompatibility(subject, parseMode(rawMode));
      });
      io.out(`${info.subject === "" ? "global" : info.subject}: ${info.mode}${info.inherited ? " (inherited)" : ""}`);
    });

  schema
    .command("delete")
    .description("soft-delete one version of a subject")
    .argument("<subject>", "the subject")
    .requiredOption("--version <n>", "the version", (v) => Number(v))
    .addOption(addressOption())
    .action(async (subject: string, o: Record<string, unknown>) => {
      const s = await withClient(o, (c) => c.deleteVersion(subject, o.version as number));
      io.out(`deleted ${describeSchema(s)}`);
    });
}
