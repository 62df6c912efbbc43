/**
 * `GetFlow`: reads every event of a correlation id from the store and
 * arranges it as a causation tree with the recorded consumer outcomes.
 */
import type { Event, Flow } from "@protobus/sdk/proto";
import { invalidArgument, notFound } from "../errors.js";
import { MAX_QUERY_LIMIT, type EventBus } from "../bus/event-bus.js";
import { buildFlow } from "./flow-builder.js";
import type { OutcomeRecorder } from "./outcome-recorder.js";

/** Most events one GetFlow returns; a longer flow is truncated. */
export const MAX_FLOW_EVENTS = 10_000;

/** The flow of `correlationId`; NOT_FOUND when it has no event. */
export async function getFlow(bus: EventBus, outcomes: OutcomeRecorder | undefined, correlationId: string): Promise<Flow> {
  if (correlationId === "") throw invalidArgument([{ field: "correlation_id", description: "is required", reason: "REQUIRED" }]);
  const events: Event[] = [];
  let pageToken = "";
  let truncated = false;
  do {
    const page = await bus.query({
      patterns: [],
      source: "",
      correlationId,
      tags: [],
      fromTime: undefined,
      toTime: undefined,
      fromSequence: 0n,
      limit: MAX_QUERY_LIMIT,
      pageToken,
    });
    events.push(...page.events);
    pageToken = page.nextPageToken;
    if (events.length >= MAX_FLOW_EVENTS && pageToken !== "") {
      truncated = true;
      break;
    }
  } while (pageToken !== "");
  if (events.length === 0) throw notFound("flow", correlationId);
  return buildFlow(correlationId, events.slice(0, MAX_FLOW_EVENTS), (sequence) => outcomes?.outcomes(sequence) ?? [], truncated);
}
