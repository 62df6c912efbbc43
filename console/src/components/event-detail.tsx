/** The detail pane of one event: envelope, decoded payload, trace link. */
import { toJson } from "@bufbuild/protobuf";
import { useEffect, useState } from "preact/hooks";
import { EventSchema, type Event } from "../gen/protobus/v1/event_pb.js";
import { traceIdOf } from "../format.js";
import { decodePayload, type DecodedPayload } from "../payload.js";
import { usePageConfig } from "./page-config-context.js";

export function EventDetail({ event, onClose, onFlow }: { event: Event; onClose: () => void; onFlow?: (correlationId: string) => void }) {
  const config = usePageConfig();
  const [payload, setPayload] = useState<DecodedPayload | undefined>(undefined);
  useEffect(() => {
    let live = true;
    setPayload(undefined);
    void decodePayload(event).then((decoded) => live && setPayload(decoded));
    return () => {
      live = false;
    };
  }, [event]);
  const envelope = toJson(EventSchema, event) as Record<string, unknown>;
  delete envelope.data;
  const traceId = traceIdOf(event.traceparent);
  return (
    <aside class="detail" aria-label="event detail">
      <header>
        <h3>{event.type}</h3>
        <button type="button" class="link" onClick={onClose} aria-label="close detail">
          ✕
        </button>
      </header>
      <dl class="facts">
        <dt>id</dt>
        <dd>{event.id}</dd>
        <dt>sequence</dt>
        <dd>{event.sequence.toString()}</dd>
        {event.correlationId !== "" && (
          <>
            <dt>correlation</dt>
            <dd>
              {onFlow !== undefined ? (
                <button type="button" class="link" onClick={() => onFlow(event.correlationId)}>
                  {event.correlationId}
                </button>
              ) : (
                event.correlationId
              )}
            </dd>
          </>
        )}
        {traceId !== "" && (
          <>
            <dt>trace</dt>
            <dd>
              {config.jaegerUrl !== "" ? (
                <a class="trace-link" href={`${config.jaegerUrl}/trace/${traceId}`} target="_blank" rel="noreferrer noopener">
                  {traceId}
                </a>
              ) : (
                <code>{traceId}</code>
              )}
            </dd>
          </>
        )}
      </dl>
      <h4>Payload {payload !== undefined && "schema" in payload && <small>decoded with {payload.schema}</small>}</h4>
      <pre class="payload" data-testid="payload">
        {payload === undefined
          ? "decoding…"
          : payload.kind === "json"
            ? JSON.stringify(payload.value, null, 2)
            : payload.kind === "text"
              ? payload.text
              : payload.kind === "empty"
                ? "(no payload)"
                : `⚠ ${payload.message}`}
      </pre>
      <h4>Envelope</h4>
      <pre class="envelope">{JSON.stringify(envelope, null, 2)}</pre>
    </aside>
  );
}
