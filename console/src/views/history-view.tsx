/** History: QueryEvents by pattern, source, correlation id, tags and time range, a page at a time. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import { ApiError, call } from "../api.js";
import { EventDetail } from "../components/event-detail.js";
import { DetailView } from "../components/detail-view.js";
import { EventTable } from "../components/event-table.js";
import { splitPatterns } from "../format.js";
import { EventBus } from "../gen/protobus/v1/bus_pb.js";
import type { Event } from "../gen/protobus/v1/event_pb.js";
import { navigate } from "../router.js";

const PAGE = 50;

interface Filters {
  patterns: string;
  source: string;
  correlationId: string;
  tags: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { patterns: "", source: "", correlationId: "", tags: "", from: "", to: "" };

export function HistoryView() {
  const [form, setForm] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  // Tokens of the pages before the current one, and of the current one.
  const [pages, setPages] = useState<string[]>([""]);
  const [events, setEvents] = useState<Event[] | undefined>(undefined);
  const [next, setNext] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [selected, setSelected] = useState<Event | undefined>(undefined);
  const pageToken = pages[pages.length - 1] ?? "";

  useEffect(() => {
    let live = true;
    setError(undefined);
    setEvents(undefined);
    call(EventBus.method.queryEvents, {
      patterns: splitPatterns(filters.patterns),
      source: filters.source.trim(),
      correlationId: filters.correlationId.trim(),
      tags: splitPatterns(filters.tags),
      ...(filters.from !== "" ? { fromTime: timestampFromDate(new Date(filters.from)) } : {}),
      ...(filters.to !== "" ? { toTime: timestampFromDate(new Date(filters.to)) } : {}),
      limit: PAGE,
      pageToken,
    }).then(
      (page) => {
        if (!live) return;
        setEvents(page.events);
        setNext(page.nextPageToken);
      },
      (failure: unknown) => {
        if (!live) return;
        setEvents([]);
        setError(failure instanceof ApiError ? failure.describe() : String(failure));
      },
    );
    return () => {
      live = false;
    };
  }, [filters, pageToken]);

  const field = (name: keyof Filters, label: string, placeholder: string) => (
    <label>
      {label} <input name={name} value={form[name]} placeholder={placeholder} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} />
    </label>
  );
  const time = (name: "from" | "to") => (
    <label>
      {name} <input name={name} type="datetime-local" step="1" value={form[name]} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} />
    </label>
  );

  return (
    <DetailView
      wrap
      onSubmit={() => {
        setFilters(form);
        setPages([""]);
        setSelected(undefined);
      }}
      toolbar={
        <>
          {field("patterns", "patterns", "agent.task.>")}
          {field("source", "source", "planner")}
          {field("correlationId", "correlation id", "")}
          {field("tags", "tags", "urgent, eu")}
          {time("from")}
          {time("to")}
          <button type="submit">Search</button>
        </>
      }
      detail={selected !== undefined && <EventDetail event={selected} onClose={() => setSelected(undefined)} onFlow={(id) => navigate(`/flows/${encodeURIComponent(id)}`)} />}
    >
      {error !== undefined && <p class="error">{error}</p>}
      {events === undefined ? <p class="empty">Loading…</p> : <EventTable events={events} selected={selected} onSelect={setSelected} empty="No events match." />}
      <nav class="pager">
        <button type="button" disabled={pages.length <= 1} onClick={() => setPages(pages.slice(0, -1))}>
          ← Previous
        </button>
        <span>page {pages.length}</span>
        <button type="button" disabled={next === ""} onClick={() => setPages([...pages, next])}>
          Next →
        </button>
      </nav>
    </DetailView>
  );
}
