/**
 * Runs the example end to end: starts a protobus server on a free loopback
 * port (in this process, memory store, every publish validated against the
 * registered schemas), registers the schemas of every generated event type,
 * starts the planner and the worker as separate processes, waits until both
 * exit, prints the flow they produced, and exits 0 when all went well.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient, createRegistryClient, syncEventSchemas } from "@protobus/sdk";
import { startServer } from "@protobus/server";
import { examplesAgentsV1Events } from "./gen/examples/agents/v1/events_protobus.js";

const TIMEOUT_MS = 60_000;

function runAgent(name: string, address: string): Promise<number> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./${name}.js`, import.meta.url))], {
    env: { ...process.env, PROTOBUS_ADDRESS: address },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const timer = setTimeout(() => {
    process.stderr.write(`[run] ${name} did not finish within ${TIMEOUT_MS / 1000} s; stopping it\n`);
    child.kill("SIGKILL");
  }, TIMEOUT_MS);
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal === null ? 1 : 128));
    });
  });
}

const server = await startServer({ host: "127.0.0.1", port: 0, store: "memory", logLevel: "error", requireSchemas: true });
let exitCode = 1;
try {
  const registry = createRegistryClient({ address: server.address });
  const sync = await syncEventSchemas(registry, examplesAgentsV1Events);
  registry.close();
  if (!sync.ok) throw new Error("the example's schemas are not compatible");
  process.stdout.write(`[run] server on ${server.address}; ${sync.results.length} event types registered; publishes are validated\n`);

  const [planner, worker] = await Promise.all([runAgent("planner", server.address), runAgent("worker", server.address)]);
  const client = createClient({ address: server.address });
  const events = [];
  for await (const event of client.queryAll({ patterns: ["agent.>"] })) events.push(event);
  const flows = new Set(events.map((e) => e.correlationId));
  process.stdout.write(`[run] ${events.length} events in ${flows.size} flow(s): ${events.map((e) => e.type).join(" → ")}\n`);
  await client.close();
  exitCode = planner === 0 && worker === 0 ? 0 : 1;
  process.stdout.write(`[run] planner exited ${planner}, worker exited ${worker}: ${exitCode === 0 ? "done" : "FAILED"}\n`);
} finally {
  await server.shutdown();
}
process.exit(exitCode);
