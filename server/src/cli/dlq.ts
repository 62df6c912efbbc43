/**
 * `protobus dlq list|redrive|purge <group>`: a consumer group's dead-letter
 * queue from the command line.
 */
import type { Command } from "commander";
import type { DeadLetterTarget, ProtobusClient } from "@protobus/sdk";
import { addressOption, type Io, printJson, withBusClient } from "./cli-support.js";
import { eventToJson, eventToLine } from "./format.js";

function target(sequences: string[], all: boolean | undefined): DeadLetterTarget {
  if (all === true && sequences.length > 0) throw new Error("give sequences or --all, not both");
  if (all === true) return "all";
  if (sequences.length === 0) throw new Error("name the sequences of the dead letters, or pass --all");
  return sequences.map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`expected an event sequence, got '${s}'`);
    return BigInt(s);
  });
}

/** A `dlq` command that acts on chosen dead letters of a group (by sequence or `--all`) and prints how many. */
interface SelectionCommand {
  /** The command's name. */
  readonly name: string;
  /** Its help line. */
  readonly description: string;
  /** The verb printed before the count, past tense. */
  readonly done: string;
  /** Acts on the chosen dead letters; resolves to how many it acted on. */
  readonly run: (client: ProtobusClient, group: string, which: DeadLetterTarget) => Promise<number>;
}

/** Adds one {@link SelectionCommand} under `dlq`. */
function addSelectionCommand(dlq: Command, io: Io, command: SelectionCommand): void {
  dlq
    .command(command.name)
    .description(command.description)
    .argument("<group>", "consumer group")
    .argument("[sequences...]", "event sequences of the dead letters")
    .option("--all", "every dead letter of the group")
    .addOption(addressOption())
    .action(async (group: string, sequences: string[], o: Record<string, unknown>) => {
      const which = target(sequences, o.all as boolean | undefined);
      await withBusClient(o, async (client) => {
        io.out(`${command.done} ${await command.run(client, group, which)} dead letters of ${group}`);
      });
    });
}

/** Adds the `dlq` command tree. */
export function registerDlqCommands(program: Command, io: Io): void {
  const dlq = program.command("dlq").description("inspect and act on a consumer group's dead-letter queue");

  dlq
    .command("list")
    .description("print a group's dead letters, oldest sequence first")
    .argument("<group>", "consumer group")
    .argument("[patterns...]", "only these event types")
    .option("--from-sequence <n>", "from this sequence")
    .option("-n, --limit <n>", "at most this many (default: all)", (v) => Number(v))
    .option("--json", "one JSON object per line")
    .addOption(addressOption())
    .action(async (group: string, patterns: string[], o: Record<string, unknown>) => {
      await withBusClient(o, async (client) => {
        const limit = (o.limit as number | undefined) ?? Number.POSITIVE_INFINITY;
        let printed = 0;
        let pageToken = "";
        do {
          const page = await client.listDeadLetters(group, {
            patterns,
            limit: Math.min(1000, limit - printed),
            pageToken,
            ...(o.fromSequence !== undefined ? { fromSequence: BigInt(o.fromSequence as string) } : {}),
          });
          for (const d of page.deadLetters) {
            if (d.event === undefined) continue;
            io.out(
              o.json === true
                ? printJson({ event: eventToJson(d.event), attempts: d.attempts, reason: d.reason, deadTime: d.deadTime?.toISOString() })
                : `${eventToLine(d.event)} attempts=${d.attempts} reason=${JSON.stringify(d.reason)} dead=${d.deadTime?.toISOString() ?? ""}`,
            );
            printed += 1;
          }
          pageToken = page.nextPageToken;
        } while (pageToken !== "" && printed < limit);
      });
    });

  addSelectionCommand(dlq, io, {
    name: "redrive",
    description: "move dead letters back into the group, to be delivered again",
    done: "redrove",
    run: (client, group, which) => client.redriveDeadLetters(group, which),
  });
  addSelectionCommand(dlq, io, {
    name: "purge",
    description: "drop dead letters for good",
    done: "purged",
    run: (client, group, which) => client.purgeDeadLetters(group, which),
  });
}
