/**
 * `protobus groups list|get|delete`: consumer groups from the command line.
 */
import type { Command } from "commander";
import type { GroupInfo } from "@protobus/sdk";
import { msFromDuration } from "@protobus/sdk/internal";
import { addressOption, type Io, printJson, withBusClient } from "./cli-support.js";

function groupLine(g: GroupInfo): string {
  return (
    `${g.name} patterns=${g.patterns.join(",")}${g.filter === "" ? "" : ` filter=${JSON.stringify(g.filter)}`} members=${g.members} ` +
    `backlog=${g.backlog} in_flight=${g.inFlight} dead_letters=${g.deadLetters} delivered=${g.delivered} ` +
    `redelivered=${g.redelivered} acked=${g.acked} nacked=${g.nacked} dead_lettered=${g.deadLettered} expired=${g.expired} ` +
    `ack_deadline=${msFromDuration(g.settings?.ackDeadline)}ms max_deliveries=${g.settings?.maxDeliveries ?? 0}` +
    (g.broken === "" ? "" : ` BROKEN=${JSON.stringify(g.broken)}`)
  );
}

function groupJson(g: GroupInfo): string {
  return printJson({
    ...g,
    createTime: g.createTime?.toISOString(),
    settings: {
      ackDeadlineMs: msFromDuration(g.settings?.ackDeadline),
      maxDeliveries: g.settings?.maxDeliveries,
      backoffMinMs: msFromDuration(g.settings?.backoffMin),
      backoffMaxMs: msFromDuration(g.settings?.backoffMax),
    },
  });
}

/** Adds the `groups` command tree. */
export function registerGroupCommands(program: Command, io: Io): void {
  const groups = program.command("groups").description("list, inspect and delete consumer groups");

  groups
    .command("list")
    .description("print every consumer group with its stats")
    .option("--json", "one JSON object per line")
    .addOption(addressOption())
    .action(async (o: Record<string, unknown>) => {
      await withBusClient(o, async (client) => {
        for (const g of await client.listGroups()) io.out(o.json === true ? groupJson(g) : groupLine(g));
      });
    });

  groups
    .command("get")
    .description("print one consumer group with its stats")
    .argument("<group>", "consumer group")
    .option("--json", "as JSON")
    .addOption(addressOption())
    .action(async (name: string, o: Record<string, unknown>) => {
      await withBusClient(o, async (client) => {
        const g = await client.getGroup(name);
        io.out(o.json === true ? groupJson(g) : groupLine(g));
      });
    });

  groups
    .command("delete")
    .description("delete a consumer group with its position and dead letters")
    .argument("<group>", "consumer group")
    .addOption(addressOption())
    .action(async (name: string, o: Record<string, unknown>) => {
      await withBusClient(o, async (client) => {
        await client.deleteGroup(name);
        io.out(`deleted group ${name}`);
      });
    });
}
