/**
 * Builds a `Flow`: the events of one correlation id arranged by causation
 * (an event's parent is the event its `causation_id` names, when that event
 * is in the flow), each with its consumers' outcomes.
 */
import type { ConsumerOutcome, Event, Flow, FlowNode } from "@protobus/sdk/proto";

/** Arranges `events` (sequence order) into a causation tree. */
export function buildFlow(
  correlationId: string,
  events: readonly Event[],
  outcomes: (sequence: bigint) => ConsumerOutcome[],
  truncated: boolean,
): Flow {
  const nodes = new Map<string, FlowNode>();
  for (const event of events) nodes.set(event.id, { event, outcomes: outcomes(event.sequence), children: [] });
  const roots: FlowNode[] = [];
  for (const event of events) {
    const node = nodes.get(event.id) as FlowNode;
    const parent = event.causationId !== "" && event.causationId !== event.id ? nodes.get(event.causationId) : undefined;
    if (parent !== undefined && !isAncestor(node, parent)) parent.children.push(node);
    else roots.push(node);
  }
  const first = events[0];
  const last = events[events.length - 1];
  return {
    correlationId,
    roots,
    eventCount: events.length,
    startTime: first?.publishTime,
    endTime: last?.publishTime,
    truncated,
  };
}

/** True when `candidate` is `node` or below it (guards against causation cycles). */
function isAncestor(node: FlowNode, candidate: FlowNode): boolean {
  if (node === candidate) return true;
  return node.children.some((child) => isAncestor(child, candidate));
}
