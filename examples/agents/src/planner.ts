/**
 * The planner agent: waits for a worker to register, plans a workflow with
 * one task for it, follows its progress, and closes the workflow when the
 * task completes. Every handler is typed: `event.payload` is the generated
 * message of `event.type`.
 */
import { timestampFromDate } from "@protobus/sdk";
import { TaskPriority } from "./gen/examples/agents/v1/common_pb.js";
import { TaskAssigned, TaskCreated } from "./gen/examples/agents/v1/task_protobus.js";
import { WorkflowCompleted, WorkflowFailed, WorkflowStarted } from "./gen/examples/agents/v1/workflow_protobus.js";
import { connect, logger } from "./bus.js";

const log = logger("planner");
const client = connect("planner");
const workflowId = "wf-report-1";
const taskId = "task-report-1";
let done = false;

function finish(code: number): void {
  if (done) return;
  done = true;
  void client.close();
  process.exit(code);
}

// From the earliest event: a worker that registered before the planner
// started is seen too.
const subscription = client.subscribe(
  ["agent.registered", "agent.task.*"],
  async (event) => {
    switch (event.type) {
      case "agent.registered": {
        if (event.payload.role !== "worker") return;
        const worker = event.payload.agentId;
        log(`worker ${worker} registered with ${event.payload.capabilities.join(", ")}`);
        await client.publish(WorkflowStarted, { workflowId, name: "quarterly report", steps: ["draft", "review"] });
        await client.publish(TaskCreated, {
          taskId,
          title: "draft the quarterly report",
          priority: TaskPriority.HIGH,
          budgetMicros: 2_500_000n,
          requiredSkills: ["writing"],
          inputs: { quarter: "2026-Q3" },
          spec: { instruction: "summarize revenue and risks", acceptanceCriteria: ["under 500 words"], limits: { maxToolCalls: 5, maxTokens: 20_000n } },
          deadline: timestampFromDate(new Date(Date.now() + 3_600_000)),
          assignee: { case: "agentId", value: worker },
        });
        await client.publish(TaskAssigned, { taskId, agentId: worker, assignedBy: "planner" }, { subject: worker });
        log(`assigned ${taskId} to ${worker}`);
        return;
      }
      case "agent.task.progress":
        log(`${event.payload.taskId}: ${event.payload.percent}% (${event.payload.note})`);
        return;
      case "agent.task.completed":
        log(`${event.payload.taskId} completed by ${event.payload.agentId} in ${event.payload.durationMs} ms: ${event.payload.result?.summary ?? ""}`);
        await client.publish(WorkflowCompleted, { workflowId });
        log(`workflow ${workflowId} completed (correlation ${event.correlationId})`);
        setImmediate(() => finish(0));
        return;
      case "agent.task.failed":
        log(`${event.payload.taskId} failed: ${event.payload.error}`);
        await client.publish(WorkflowFailed, { workflowId, step: "draft", error: event.payload.error });
        setImmediate(() => finish(1));
        return;
      default:
        // created, assigned, started, cancelled: the planner's own or not its business.
        return;
    }
  },
  { from: "earliest", onError: (error) => log(`handler failed: ${String(error)}`) },
);
subscription.closed.catch((error: unknown) => {
  log(`subscription failed: ${String(error)}`);
  finish(1);
});
log("waiting for a worker");
