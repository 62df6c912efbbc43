/** A table of events with their decoded payloads; a click selects one. */
import { useEffect, useState } from "preact/hooks";
import type { Event } from "../gen/protobus/v1/event_pb.js";
import { formatTime } from "../format.js";
import { decodePayload, payloadSummary, type DecodedPayload } from "../payload.js";

function PayloadCell({ event }: { event: Event }) {
  const [payload, setPayload] = useState<DecodedPayload | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void decodePayload(event).then((decoded) => live && setPayload(decoded));
    return () => {
      live = false;
    };
  }, [event]);
  return <td class="payload-cell">{payloadSummary(payload)}</td>;
}

export function EventTable({ events, selected, onSelect, empty }: { events: readonly Event[]; selected: Event | undefined; onSelect: (event: Event) => void; empty: string }) {
  if (events.length === 0) return <p class="empty">{empty}</p>;
  return (
    <table class="events">
      <thead>
        <tr>
          <th>seq</th>
          <th>published</th>
          <th>type</th>
          <th>source</th>
          <th>subject</th>
          <th>payload</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => (
          <tr key={event.id} class={event === selected ? "selected" : ""} onClick={() => onSelect(event)} data-type={event.type}>
            <td class="num">{event.sequence.toString()}</td>
            <td class="time">{formatTime(event.publishTime)}</td>
            <td>{event.type}</td>
            <td>{event.source}</td>
            <td>{event.subject}</td>
            <PayloadCell event={event} />
          </tr>
        ))}
      </tbody>
    </table>
  );
}
