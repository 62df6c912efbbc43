/**
 * The `protobus` command line: `serve`, `publish`, `tail`, `query`, `get`,
 * `flow`, `schema`, `groups`, `dlq`, `recover`, `token`.
 * Every client command talks to a server through @protobus/sdk, at
 * `--address` or `PROTOBUS_ADDRESS` (default 127.0.0.1:50051).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { ProtobusError, createClient, createRegistryClient, type EventInput, type ProtobusClient, type StartFrom } from "@protobus/sdk";
import { CONFIG_KEYS, loadConfig, parseDurationMs } from "../config.js";
import { createLogger } from "../logger.js";
import { VERSION } from "../version.js";
import { addConnectionOptions, addressOption, connection, type Io, printJson, withBusClient } from "./cli-support.js";
import { registerDlqCommands } from "./dlq.js";
import { createEventPrinter, type EventPrinter } from "./format.js";
import { addFlowCommand } from "./flow.js";
import { startTracing } from "../telemetry/tracing-setup.js";
import { addSchemaCommands } from "./schema.js";
import { registerGroupCommands } from "./groups.js";
import { registerTokenCommands } from "./token.js";
import { registerOutboxCommands } from "./outbox.js";
import { registerRecoverCommand } from "./recover.js";


const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};


function describeError(error: unknown): string {
  if (error instanceof ProtobusError) {
    const lines = [error.message];
    for (const v of error.fieldViolations) lines.push(`  ${v.field}: ${v.description}`);
    for (const v of error.preconditionViolations) lines.push(`  ${v.type} ${v.subject}: ${v.description}`);
    return lines.join("\n");
  }
  return error instanceof Error ? error.message : String(error);
}

function parseStart(from: string): StartFrom {
  if (from === "latest" || from === "earliest") return from;
  if (/^\d+$/.test(from)) return { sequence: BigInt(from) };
  const time = new Date(from);
  if (!Number.isNaN(time.getTime())) return { time };
  // A relative time: 5m means five minutes ago.
  return { time: new Date(Date.now() - parseDurationMs(from, "--from")) };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The event printer of a command's `--json`, `--raw` and `--address`. */
function printerFor(o: Record<string, unknown>): EventPrinter {
  return createEventPrinter({ json: o.json === true, raw: o.raw === true, registry: () => createRegistryClient(connection(o)) });
}

/** Help of `--raw`, the same on every command that prints events. */
const RAW_HELP = "print Protobuf payloads as base64 instead of decoding them with their registered schema";

/** Runs `run` with an event bus client and the event printer of the command's options; closes the printer, then the client. */
async function withPrinter(o: Record<string, unknown>, run: (client: ProtobusClient, printer: EventPrinter) => Promise<void>): Promise<void> {
  await withBusClient(o, async (client) => {
    const printer = printerFor(o);
    try {
      await run(client, printer);
    } finally {
      printer.close();
    }
  });
}

/** `protobus serve`: every configuration key as a flag; runs until SIGINT or SIGTERM. */
function addServeCommand(program: Command): void {
  const serve = program.command("serve").description("run the server (SQLite under ./.protobus by default)");
  for (const spec of CONFIG_KEYS) {
    serve.addOption(new Option(`--${spec.yaml} ${spec.boolean ? "[value]" : "<value>"}`, `${spec.description} [env ${spec.env}]`));
  }
  serve.option("-c, --config <file>", "config file [env PROTOBUS_CONFIG] (default ./protobus.yaml when present)");
  serve.action(async (flags: Record<string, string | undefined>) => {
    const byYaml: Record<string, string | undefined> = {};
    for (const spec of CONFIG_KEYS) {
      const value: unknown = flags[camel(spec.yaml)];
      // A switch given without a value arrives as `true`.
      byYaml[spec.yaml] = value === true ? "true" : (value as string | undefined);
    }
    const config = loadConfig({ flags: byYaml, ...(flags.config !== undefined ? { configFile: flags.config } : {}) });
    const logger = createLogger({ level: config.logLevel, format: config.logFormat });
    // The server gives each span its parent explicitly: no context manager, no async hooks.
    const tracing = await startTracing({ logger, contextManager: false });
    // The server's code is loaded by the command that runs it, so the other commands start sooner.
    const { startServer } = await import("../server.js");
    const server = await startServer({ ...config, logger });
    await new Promise<void>((resolve) => {
      let signals = 0;
      const stop = (signal: NodeJS.Signals): void => {
        signals += 1;
        if (signals > 1) {
          logger.warn(`second ${signal}: exiting now`);
          process.exit(130);
        }
        logger.info(`${signal} received`);
        server
          .shutdown()
          .then(() => tracing.shutdown())
          .then(resolve, (error: unknown) => {
            logger.error("shutdown failed", { error });
            resolve();
          })
          .finally(() => {
            // Everything of ours is closed. A span exporter still retrying a
            // collector that does not answer (its flush timed out) must not
            // keep the process alive; the timer itself does not either.
            setTimeout(() => process.exit(), 200).unref();
          });
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      // SIGHUP reads certificates, tokens, JWKS file and policy again without a restart.
      process.on("SIGHUP", () => server.reload());
    });
  });
}

/** The event `protobus publish` was told to publish. */
function publishInput(o: Record<string, unknown>): EventInput {
  let data: EventInput["data"];
  if (o.dataFile !== undefined) {
    const raw = readFileSync(o.dataFile === "-" ? 0 : (o.dataFile as string));
    data = o.contentType === undefined ? (JSON.parse(raw.toString("utf8")) as unknown) : raw;
  } else if (o.data !== undefined) {
    data = o.contentType === undefined ? (JSON.parse(o.data as string) as unknown) : (o.data as string);
  }
  const attributes: Record<string, string> = {};
  for (const pair of (o.attr as string[] | undefined) ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--attr expects key=value, got '${pair}'`);
    attributes[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const input: EventInput = {
    type: o.type as string,
    data,
    attributes,
    ...(o.contentType !== undefined ? { dataContentType: o.contentType as string } : {}),
    ...(o.id !== undefined ? { id: o.id as string } : {}),
    ...(o.subject !== undefined ? { subject: o.subject as string } : {}),
    ...(o.correlationId !== undefined ? { correlationId: o.correlationId as string } : {}),
    ...(o.causationId !== undefined ? { causationId: o.causationId as string } : {}),
    ...(o.priority !== undefined ? { priority: o.priority as number } : {}),
    ...(o.tag !== undefined ? { tags: o.tag as string[] } : {}),
    ...(o.ttl !== undefined ? { expireTime: new Date(Date.now() + parseDurationMs(o.ttl as string, "--ttl")) } : {}),
    ...(o.orderingKey !== undefined ? { orderingKey: o.orderingKey as string } : {}),
  };
  return input;
}

/** `protobus publish`: one event. */
function addPublishCommand(program: Command, io: Io): void {
  program
    .command("publish")
    .description("publish one event")
    .requiredOption("-t, --type <type>", "event type, e.g. agent.task.created")
    .option("-s, --source <source>", "event source", "cli")
    .option("-d, --data <json>", "JSON payload")
    .option("--data-file <file>", "payload file (JSON unless --content-type says otherwise; - for stdin)")
    .option("--content-type <type>", "payload media type")
    .option("--id <id>", "event id (default: assigned by the server)")
    .option("--subject <subject>", "subject (e.g. the agent it is addressed to)")
    .option("--correlation-id <id>", "correlation id")
    .option("--causation-id <id>", "causation id")
    .option("--priority <0-9>", "0 highest .. 9 lowest", (v) => Number(v))
    .option("--tag <tag>", "tag (repeatable)", collect)
    .option("--ttl <duration>", "expire after this long (e.g. 30s, 5m)")
    .option("--ordering-key <key>", "ordering key")
    .option("--attr <key=value>", "attribute (repeatable)", collect)
    .option("--json", "print the result as JSON")
    .addOption(addressOption())
    .action(async (o: Record<string, unknown>) => {
      // With OTEL_* set, the publish is the root PRODUCER span of its flow's trace.
      const tracing = await startTracing({ defaultServiceName: "protobus-cli" });
      const client = createClient({ ...connection(o), source: o.source as string });
      try {
        const input = publishInput(o);
        const result = await client.publish(input);
        io.out(
          o.json === true
            ? printJson(result)
            : `published ${input.type} id=${result.id} sequence=${result.sequence}${result.duplicate ? " (duplicate)" : ""}`,
        );
      } finally {
        await client.close();
        await tracing.shutdown();
      }
    });
}

/** `protobus tail`: matching events as they are published. */
function addTailCommand(program: Command, io: Io): void {
  program
    .command("tail")
    .description("print matching events as they are published, one per line")
    .argument("<patterns...>", "event type patterns (`*` one token, `>` the rest), e.g. 'agent.>'")
    .option("--from <position>", "latest, earliest, a sequence, an ISO time, or a duration ago (5m)", "latest")
    .option("--json", "one JSON object per line")
    .option("-n, --count <n>", "exit after this many events", (v) => Number(v))
    .option("-g, --group <name>", "consume as a member of this consumer group (each event goes to one member)")
    .option("--filter <expression>", "only events for which this holds, e.g. 'subject == \"agent-7\"'")
    .option("--raw", RAW_HELP)
    .addOption(addressOption())
    .action(async (patterns: string[], o: Record<string, unknown>) => {
      await withPrinter(o, async (client, printer) => {
        const subscription = client.subscribe(patterns, {
          from: parseStart(o.from as string),
          ...(o.group !== undefined ? { group: o.group as string } : {}),
          ...(o.filter !== undefined ? { filter: o.filter as string } : {}),
        });
        const stop = (): void => subscription.close();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        let seen = 0;
        try {
          for await (const event of subscription) {
            io.out(await printer.print(event));
            seen += 1;
            if (o.count !== undefined && seen >= (o.count as number)) break;
          }
        } finally {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
        }
      });
    });
}

/** `protobus query`: stored events that match, oldest first. */
function addQueryCommand(program: Command, io: Io): void {
  program
    .command("query")
    .description("print stored events that match, oldest first")
    .argument("[patterns...]", "event type patterns (default: every type)")
    .option("--source <source>", "only this source")
    .option("--correlation-id <id>", "only this correlation id")
    .option("--tag <tag>", "only events with this tag (repeatable)", collect)
    .option("--since <time>", "published at or after (ISO time or duration ago, e.g. 1h)")
    .option("--until <time>", "published before (ISO time or duration ago)")
    .option("--from-sequence <n>", "from this sequence")
    .option("-n, --limit <n>", "at most this many events (default: all)", (v) => Number(v))
    .option("--json", "one JSON object per line")
    .option("--raw", RAW_HELP)
    .addOption(addressOption())
    .action(async (patterns: string[], o: Record<string, unknown>) => {
      const toTime = (raw: unknown): Date | undefined => {
        if (raw === undefined) return undefined;
        const start = parseStart(raw as string);
        if (typeof start === "object" && "time" in start) return start.time;
        throw new Error(`expected a time or a duration, got '${String(raw)}'`);
      };
      await withPrinter(o, async (client, printer) => {
        let printed = 0;
        const limit = (o.limit as number | undefined) ?? Number.POSITIVE_INFINITY;
        const fromTime = toTime(o.since);
        const untilTime = toTime(o.until);
        for await (const event of client.queryAll({
          patterns,
          ...(o.source !== undefined ? { source: o.source as string } : {}),
          ...(o.correlationId !== undefined ? { correlationId: o.correlationId as string } : {}),
          ...(o.tag !== undefined ? { tags: o.tag as string[] } : {}),
          ...(fromTime !== undefined ? { fromTime } : {}),
          ...(untilTime !== undefined ? { toTime: untilTime } : {}),
          ...(o.fromSequence !== undefined ? { fromSequence: BigInt(o.fromSequence as string) } : {}),
          limit: Math.min(1000, limit),
        })) {
          if (printed >= limit) break;
          io.out(await printer.print(event));
          printed += 1;
        }
      });
    });
}

/** `protobus get`: one event by id. */
function addGetCommand(program: Command, io: Io): void {
  program
    .command("get")
    .description("print one event by id")
    .argument("<id>", "event id")
    .option("--json", "as JSON")
    .option("--raw", RAW_HELP)
    .addOption(addressOption())
    .action(async (id: string, o: Record<string, unknown>) => {
      await withPrinter(o, async (client, printer) => {
        io.out(await printer.print(await client.getEvent(id)));
      });
    });
}

/** Builds the command tree; `io` lets tests capture output. */
export function buildProgram(io: Io = defaultIo): Command {
  const program = new Command("protobus")
    .description("Schema-first event platform: publish, subscribe and query typed events over gRPC.")
    .version(VERSION)
    // Program options only before a subcommand, so that `schema get --version N` is the subcommand's.
    .enablePositionalOptions()
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  addServeCommand(program);
  addPublishCommand(program, io);
  addTailCommand(program, io);
  addQueryCommand(program, io);
  addGetCommand(program, io);

  addFlowCommand(program, io.out, addressOption);

  addSchemaCommands(program, { io, addressOption });

  registerDlqCommands(program, io);
  registerGroupCommands(program, io);
  registerTokenCommands(program, io);
  registerRecoverCommand(program, io);
  registerOutboxCommands(program, io);
  // Every command with --address also takes --tls-ca, --tls-cert, --tls-key and --token.
  addConnectionOptions(program);
  return program;
}

function camel(kebab: string): string {
  return kebab.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const program = buildProgram(io).exitOverride();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    io.err(`protobus: ${describeError(error)}`);
    return 1;
  }
}
