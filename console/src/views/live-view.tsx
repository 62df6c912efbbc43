/**
 * Live events: a real subscription's deliveries as they come, newest first,
 * with a pattern and filter box, pause, and the detail pane. At most
 * {@link KEEP} events are kept; what the server dropped for this browser is
 * counted and shown.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "../api.js";
import { EventDetail } from "../components/event-detail.js";
import { DetailView } from "../components/detail-view.js";
import { EventTable } from "../components/event-table.js";
import { formatCount, splitPatterns } from "../format.js";
import type { Event } from "../gen/protobus/v1/event_pb.js";
import { openLiveStream } from "../live-stream.js";
import { navigate } from "../router.js";

const KEEP = 500;

export function LiveView() {
  const [patternText, setPatternText] = useState(">");
  const [filterText, setFilterText] = useState("");
  const [query, setQuery] = useState({ patterns: [">"], filter: "" });
  const [events, setEvents] = useState<Event[]>([]);
  const [paused, setPaused] = useState(false);
  const [heldCount, setHeldCount] = useState(0);
  const [status, setStatus] = useState({ delivered: 0, dropped: 0 });
  const [state, setState] = useState<"connecting" | "live" | "failed">("connecting");
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [selected, setSelected] = useState<Event | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  const pausedRef = useRef(false);
  const held = useRef<Event[]>([]);

  useEffect(() => {
    const abort = new AbortController();
    setState("connecting");
    setError(undefined);
    setStatus({ delivered: 0, dropped: 0 });
    setGeneration((n) => n + 1);
    void openLiveStream(
      query.patterns,
      query.filter,
      {
        onOpened: () => setState("live"),
        onEvents: (arrived) => {
          const newestFirst = arrived.reverse();
          if (pausedRef.current) {
            held.current = [...newestFirst, ...held.current].slice(0, KEEP);
            setHeldCount((n) => n + arrived.length);
          } else {
            setEvents((shown) => [...newestFirst, ...shown].slice(0, KEEP));
          }
        },
        onStatus: setStatus,
        onError: (failure) => {
          setState("failed");
          setError(failure);
        },
      },
      abort.signal,
    );
    return () => abort.abort();
  }, [query]);

  const togglePause = (): void => {
    const next = !paused;
    pausedRef.current = next;
    setPaused(next);
    if (!next) {
      const arrived = held.current;
      held.current = [];
      setHeldCount(0);
      setEvents((shown) => [...arrived, ...shown].slice(0, KEEP));
    }
  };

  return (
    <DetailView
      onSubmit={() => {
        const patterns = splitPatterns(patternText);
        setEvents([]);
        setSelected(undefined);
        setQuery({ patterns: patterns.length > 0 ? patterns : [">"], filter: filterText.trim() });
      }}
      toolbar={
        <>
          <label>
            patterns <input name="patterns" value={patternText} onInput={(e) => setPatternText(e.currentTarget.value)} placeholder="agent.task.>, agent.tool.*" />
          </label>
          <label class="grow">
            filter <input name="filter" value={filterText} onInput={(e) => setFilterText(e.currentTarget.value)} placeholder={'subject == "agent-7"'} />
          </label>
          <button type="submit">Apply</button>
          <button type="button" onClick={togglePause} aria-pressed={paused}>
            {paused ? "Resume" : "Pause"}
          </button>
        </>
      }
      detail={selected !== undefined && <EventDetail event={selected} onClose={() => setSelected(undefined)} onFlow={(id) => navigate(`/flows/${encodeURIComponent(id)}`)} />}
    >
      <p class="status-line">
        <span class={`state ${state}`} data-testid="live-state" data-generation={generation}>
          {state}
        </span>
        <span data-testid="live-received">received {formatCount(status.delivered)}</span>
        <span data-testid="live-dropped" class={status.dropped > 0 ? "warn" : ""}>
          dropped {formatCount(status.dropped)}
        </span>
        {paused && <span data-testid="live-held">paused: {formatCount(heldCount)} new</span>}
      </p>
      {error !== undefined && <p class="error">{error.describe()}</p>}
      <EventTable events={events} selected={selected} onSelect={setSelected} empty="Waiting for events…" />
    </DetailView>
  );
}
