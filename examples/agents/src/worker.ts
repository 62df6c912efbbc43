/**
 * The worker agent: registers, works on the tasks assigned to it (a tool
 * call, progress, a result), and stops when the workflow is done.
 */
import { AgentRegistered, AgentStopped } from "./gen/examples/agents/v1/agent_protobus.js";
import { TaskCompleted, TaskProgress, TaskStarted } from "./gen/examples/agents/v1/task_protobus.js";
import { ToolCompleted, ToolInvoked } from "./gen/examples/agents/v1/tool_protobus.js";
import { connect, logger } from "./bus.js";

const agentId = `worker-${process.pid}`;
const log = logger("worker");
const client = connect("worker");

const subscription = client.subscribe(
  ["agent.task.assigned", "agent.workflow.*"],
  async (event) => {
    switch (event.type) {
      case "agent.task.assigned": {
        const { taskId } = event.payload;
        if (event.payload.agentId !== agentId) return;
        const started = Date.now();
        log(`working on ${taskId}`);
        await client.publish(TaskStarted, { taskId, agentId });
        const invocationId = `${taskId}-search-1`;
        await client.publish(ToolInvoked, { invocationId, taskId, agentId, tool: "search", arguments: { query: "revenue 2026-Q3" } });
        await client.publish(ToolCompleted, { invocationId, tool: "search", output: "3 documents", latencyMs: 42n });
        await client.publish(TaskProgress, { taskId, percent: 50, note: "sources found" });
        await client.publish(TaskCompleted, {
          taskId,
          agentId,
          result: { summary: "revenue up 4%, two open risks", outputs: { words: "412" } },
          durationMs: BigInt(Date.now() - started),
        });
        log(`completed ${taskId}`);
        return;
      }
      case "agent.workflow.completed":
      case "agent.workflow.failed":
        log(`workflow ${event.payload.workflowId} ended (${event.type}); stopping`);
        await client.publish(AgentStopped, { agentId, reason: "workflow ended" });
        setImmediate(() => {
          void client.close();
          process.exit(event.type === "agent.workflow.completed" ? 0 : 1);
        });
        return;
      default:
        return;
    }
  },
  { onError: (error) => log(`handler failed: ${String(error)}`) },
);
subscription.closed.catch((error: unknown) => {
  log(`subscription failed: ${String(error)}`);
  process.exit(1);
});
await subscription.opened();
await client.publish(AgentRegistered, { agentId, role: "worker", capabilities: ["writing", "search"], version: "1.0.0" });
log(`registered as ${agentId}`);
