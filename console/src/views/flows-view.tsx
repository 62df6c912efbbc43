/**
 * Flows: GetFlow by correlation id as a causation tree, each event with its
 * offset from the flow's start and what each consumer did with it; and the
 * slow-flow and rate-spike alerts of the last hour (the server publishes
 * them as `protobus.alert.*` events).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import { ApiError, call } from "../api.js";
import { EventDetail } from "../components/event-detail.js";
import { DetailView } from "../components/detail-view.js";
import { formatDuration, formatTime, millisBetween } from "../format.js";
import { EventBus, OutcomeState, type ConsumerOutcome, type Flow, type FlowNode } from "../gen/protobus/v1/bus_pb.js";
import type { Event } from "../gen/protobus/v1/event_pb.js";
import { navigate } from "../router.js";

const STATE_NAMES: Record<number, string> = {
  [OutcomeState.UNSPECIFIED]: "unknown",
  [OutcomeState.DELIVERED]: "delivered",
  [OutcomeState.ACKED]: "acked",
  [OutcomeState.RETRYING]: "retrying",
  [OutcomeState.DEAD_LETTERED]: "dead-lettered",
};

function Outcome({ outcome }: { outcome: ConsumerOutcome }) {
  const state = STATE_NAMES[outcome.state] ?? "unknown";
  return (
    <span class={`outcome ${state}`} title={`attempts ${outcome.attempts}, retries ${outcome.retries}`}>
      {outcome.group === "" ? "broadcast" : outcome.group}: {state}
      {outcome.attempts > 1 ? ` ×${outcome.attempts}` : ""}
    </span>
  );
}

function Node({ node, flow, onSelect }: { node: FlowNode; flow: Flow; onSelect: (event: Event) => void }) {
  const event = node.event;
  if (event === undefined) return null;
  return (
    <li>
      <div class="flow-node" data-type={event.type}>
        <button type="button" class="link" onClick={() => onSelect(event)}>
          {event.type}
        </button>
        <span class="offset">+{formatDuration(millisBetween(flow.startTime, event.publishTime))}</span>
        <span class="muted">{event.source}</span>
        {node.outcomes.map((o) => (
          <Outcome key={`${o.group}/${o.subscriptionId}`} outcome={o} />
        ))}
      </div>
      {node.children.length > 0 && (
        <ul>
          {node.children.map((child) => (
            <Node key={child.event?.id} node={child} flow={flow} onSelect={onSelect} />
          ))}
        </ul>
      )}
    </li>
  );
}

function Alerts() {
  const [alerts, setAlerts] = useState<Event[] | undefined>(undefined);
  useEffect(() => {
    call(EventBus.method.queryEvents, { patterns: ["protobus.alert.>"], fromTime: timestampFromDate(new Date(Date.now() - 3_600_000)), limit: 100 }).then(
      (page) => setAlerts(page.events.reverse()),
      () => setAlerts([]),
    );
  }, []);
  const text = new TextDecoder();
  return (
    <div class="panel">
      <h2>Alerts of the last hour</h2>
      {alerts === undefined ? (
        <p class="empty">Loading…</p>
      ) : alerts.length === 0 ? (
        <p class="empty">No slow flows or rate spikes.</p>
      ) : (
        <table class="alerts">
          <tbody>
            {alerts.map((a) => (
              <tr key={a.id}>
                <td class="time">{formatTime(a.publishTime)}</td>
                <td>{a.type.replace("protobus.alert.", "")}</td>
                <td>
                  {a.correlationId !== "" && (
                    <button type="button" class="link" onClick={() => navigate(`/flows/${encodeURIComponent(a.correlationId)}`)}>
                      {a.correlationId}
                    </button>
                  )}
                </td>
                <td class="payload-cell">{text.decode(a.data)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function FlowsView({ correlationId }: { correlationId: string }) {
  const [input, setInput] = useState(correlationId);
  const [flow, setFlow] = useState<Flow | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [selected, setSelected] = useState<Event | undefined>(undefined);
  useEffect(() => {
    setInput(correlationId);
    setFlow(undefined);
    setSelected(undefined);
    setError(undefined);
    if (correlationId === "") return;
    let live = true;
    call(EventBus.method.getFlow, { correlationId }).then(
      (answer) => live && setFlow(answer),
      (failure: unknown) => live && setError(failure instanceof ApiError ? failure.describe() : String(failure)),
    );
    return () => {
      live = false;
    };
  }, [correlationId]);
  return (
    <DetailView
      onSubmit={() => navigate(`/flows/${encodeURIComponent(input.trim())}`)}
      toolbar={
        <>
          <label class="grow">
            correlation id <input name="correlationId" value={input} onInput={(e) => setInput(e.currentTarget.value)} />
          </label>
          <button type="submit">Show flow</button>
        </>
      }
      detail={selected !== undefined && <EventDetail event={selected} onClose={() => setSelected(undefined)} />}
    >
      {error !== undefined && <p class="error">{error}</p>}
      {flow !== undefined && (
        <div class="panel">
          <h2>
            Flow {flow.correlationId}: {flow.eventCount} event{flow.eventCount === 1 ? "" : "s"} over {formatDuration(millisBetween(flow.startTime, flow.endTime))}, from{" "}
            {formatTime(flow.startTime)}
          </h2>
          {flow.truncated && <p class="warn">The flow has more events than the server returns at once; the oldest are shown.</p>}
          <ul class="flow-tree">
            {flow.roots.map((root) => (
              <Node key={root.event?.id} node={root} flow={flow} onSelect={setSelected} />
            ))}
          </ul>
        </div>
      )}
      <Alerts />
    </DetailView>
  );
}
