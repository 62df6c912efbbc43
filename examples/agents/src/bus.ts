/**
 * What both agents share: a typed client for the example domain, and a
 * logger that prefixes each line with the agent's name.
 */
import { createClient, type ProtobusClient } from "@protobus/sdk";
import { examplesAgentsV1Events, type ExamplesAgentsV1Events } from "./gen/examples/agents/v1/events_protobus.js";

/** Connects to the server named by PROTOBUS_ADDRESS as `agent/<name>`. */
export function connect(name: string): ProtobusClient<ExamplesAgentsV1Events> {
  const address = process.env.PROTOBUS_ADDRESS;
  if (address === undefined || address === "") throw new Error("PROTOBUS_ADDRESS is not set (run `npm run example:agents`)");
  return createClient({ address, source: `agent/${name}`, events: examplesAgentsV1Events });
}

/** Logs one line as the agent. */
export function logger(name: string): (line: string) => void {
  return (line) => process.stdout.write(`[${name}] ${line}\n`);
}
