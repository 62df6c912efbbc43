/**
 * `protobus flow <correlation-id>`: prints a flow as a causation tree, one
 * line per event with its offset from the flow's start, type, source and id,
 * and one line per consumer with what it did (acked, retried,
 * dead-lettered).
 */
import type { Command, Option } from "commander";
import { withBusClient } from "./cli-support.js";
import { OutcomeState, type ConsumerOutcome, type Flow, type FlowNode } from "@protobus/sdk/proto";
import { eventToJson } from "./format.js";

const STATE_NAMES: Record<number, string> = {
  [OutcomeState.OUTCOME_STATE_DELIVERED]: "delivered",
  [OutcomeState.OUTCOME_STATE_ACKED]: "acked",
  [OutcomeState.OUTCOME_STATE_RETRYING]: "retrying",
  [OutcomeState.OUTCOME_STATE_DEAD_LETTERED]: "dead-lettered",
};

/** What a consumer did, in words: `acked`, `acked after 3 attempts`, `dead-lettered after 5 attempts`. */
export function describeOutcome(outcome: ConsumerOutcome): string {
  const who = outcome.group !== "" ? `group ${outcome.group}` : `subscription ${outcome.subscriptionId.slice(0, 8)}`;
  const state = STATE_NAMES[outcome.state] ?? "unknown";
  const attempts = outcome.attempts > 1 ? ` after ${outcome.attempts} attempts` : "";
  const retried = outcome.retries > 0 ? ` (retried ${outcome.retries}x)` : "";
  return `${who}: ${state}${attempts}${retried}`;
}

/** The flow as text lines: a tree of events, each followed by its consumers' outcomes. */
export function formatFlow(flow: Flow): string[] {
  const start = flow.startTime?.getTime() ?? 0;
  const end = flow.endTime?.getTime() ?? start;
  const lines = [
    `flow ${flow.correlationId}: ${flow.eventCount} event${flow.eventCount === 1 ? "" : "s"} over ${end - start} ms` +
      (flow.startTime !== undefined ? `, from ${flow.startTime.toISOString()}` : "") +
      (flow.truncated ? " (truncated: the oldest events only)" : ""),
  ];
  const walk = (node: FlowNode, prefix: string, last: boolean): void => {
    const event = node.event;
    if (event === undefined) return;
    const offset = (event.publishTime?.getTime() ?? start) - start;
    lines.push(`${prefix}${last ? "└─ " : "├─ "}+${offset} ms ${event.type} source=${event.source} id=${event.id} #${event.sequence}`);
    const inner = `${prefix}${last ? "   " : "│  "}`;
    for (const outcome of node.outcomes) lines.push(`${inner}${node.children.length > 0 ? "│" : " "}  ↳ ${describeOutcome(outcome)}`);
    node.children.forEach((child, i) => walk(child, inner, i === node.children.length - 1));
  };
  flow.roots.forEach((root, i) => walk(root, "", i === flow.roots.length - 1));
  return lines;
}

/** The flow as plain JSON. */
export function flowToJson(flow: Flow): Record<string, unknown> {
  const node = (n: FlowNode): Record<string, unknown> => ({
    event: n.event === undefined ? undefined : eventToJson(n.event),
    outcomes: n.outcomes.map((o) => ({
      group: o.group,
      subscriptionId: o.subscriptionId,
      state: STATE_NAMES[o.state] ?? "unknown",
      attempts: o.attempts,
      retries: o.retries,
      firstDeliveryTime: o.firstDeliveryTime?.toISOString(),
      updateTime: o.updateTime?.toISOString(),
    })),
    children: n.children.map(node),
  });
  return {
    correlationId: flow.correlationId,
    eventCount: flow.eventCount,
    startTime: flow.startTime?.toISOString(),
    endTime: flow.endTime?.toISOString(),
    truncated: flow.truncated,
    roots: flow.roots.map(node),
  };
}

/** Adds `flow <correlation-id>` to the program. */
export function addFlowCommand(program: Command, out: (line: string) => void, address: () => Option): void {
  program
    .command("flow")
    .description("print every event of a flow (correlation id) as a causation tree, with consumer outcomes")
    .argument("<correlation-id>", "the flow's correlation id")
    .option("--json", "as JSON")
    .addOption(address())
    .action(async (correlationId: string, o: Record<string, unknown>) => {
      await withBusClient(o, async (client) => {
        const flow = await client.getFlow(correlationId);
        if (o.json === true) out(JSON.stringify(flowToJson(flow)));
        else for (const line of formatFlow(flow)) out(line);
      });
    });
}
