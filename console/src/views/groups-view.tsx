/**
 * Consumer groups and their dead letters: every group's members, backlog, in
 * flight and redelivery counters (ListGroups), and for the selected one its
 * dead letters with their last failure (ListDeadLetters), with redrive and
 * purge for a principal allowed to (each behind a confirmation).
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { session } from "../access.js";
import { ApiError, call } from "../api.js";
import { ConfirmDialog } from "../components/confirm-dialog.js";
import { formatCount, formatTime } from "../format.js";
import { EventBus, type DeadLetter, type GroupInfo } from "../gen/protobus/v1/bus_pb.js";
import { navigate } from "../router.js";

function describe(error: unknown): string {
  return error instanceof ApiError ? error.describe() : String(error);
}

interface Pending {
  readonly act: "redrive" | "purge";
  readonly sequences: readonly bigint[];
}

function DeadLetters({ group, onChanged }: { group: GroupInfo; onChanged: () => void }) {
  const [letters, setLetters] = useState<DeadLetter[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [canManage, setCanManage] = useState(false);
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    setError(undefined);
    call(EventBus.method.listDeadLetters, { group: group.name, limit: 100 }).then(
      (page) => live && setLetters(page.deadLetters),
      (failure: unknown) => {
        if (!live) return;
        setLetters([]);
        setError(describe(failure));
      },
    );
    void session([{ permission: "group.dead-letters", resource: group.name }]).then((s) => live && setCanManage(s.allowed[0] === true));
    return () => {
      live = false;
    };
  }, [group.name, reload]);

  const act = async ({ act, sequences }: Pending): Promise<void> => {
    setPending(undefined);
    const request = { group: group.name, sequences: [...sequences], all: sequences.length === 0 };
    try {
      const result = act === "redrive" ? await call(EventBus.method.redriveDeadLetters, request) : await call(EventBus.method.purgeDeadLetters, request);
      setNotice(`${act === "redrive" ? "Redrove" : "Purged"} ${formatCount(result.count)} dead letter${result.count === 1n ? "" : "s"}.`);
    } catch (failure) {
      setError(describe(failure));
    }
    setReload((n) => n + 1);
    onChanged();
  };

  const count = (p: Pending) => (p.sequences.length === 0 ? `all ${letters?.length ?? 0}` : `${p.sequences.length}`);
  return (
    <div class="panel">
      <h2>
        Dead letters of {group.name}
        {canManage && letters !== undefined && letters.length > 0 && (
          <span class="inline-actions">
            <button type="button" onClick={() => setPending({ act: "redrive", sequences: [] })}>
              Redrive all
            </button>
            <button type="button" class="danger" onClick={() => setPending({ act: "purge", sequences: [] })}>
              Purge all
            </button>
          </span>
        )}
      </h2>
      {notice !== undefined && <p class="notice">{notice}</p>}
      {error !== undefined && <p class="error">{error}</p>}
      {letters === undefined ? (
        <p class="empty">Loading…</p>
      ) : letters.length === 0 ? (
        error === undefined && <p class="empty">No dead letters.</p>
      ) : (
        <table class="dead-letters">
          <thead>
            <tr>
              <th>seq</th>
              <th>type</th>
              <th>dead since</th>
              <th>attempts</th>
              <th>last failure</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {letters.map((letter) => {
              const sequence = letter.event?.sequence ?? 0n;
              return (
                <tr key={sequence.toString()}>
                  <td class="num">{sequence.toString()}</td>
                  <td>{letter.event?.type}</td>
                  <td class="time">{formatTime(letter.deadTime)}</td>
                  <td class="num">{letter.attempts}</td>
                  <td>{letter.reason}</td>
                  <td class="row-actions">
                    {letter.event?.correlationId !== undefined && letter.event.correlationId !== "" && (
                      <button type="button" class="link" onClick={() => navigate(`/flows/${encodeURIComponent(letter.event?.correlationId ?? "")}`)}>
                        flow
                      </button>
                    )}
                    {canManage && (
                      <>
                        <button type="button" onClick={() => setPending({ act: "redrive", sequences: [sequence] })}>
                          Redrive
                        </button>
                        <button type="button" class="danger" onClick={() => setPending({ act: "purge", sequences: [sequence] })}>
                          Purge
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {pending !== undefined && (
        <ConfirmDialog
          title={pending.act === "redrive" ? "Redrive dead letters" : "Purge dead letters"}
          body={
            pending.act === "redrive"
              ? `Move ${count(pending)} dead letter(s) of group ${group.name} back into the group? They are delivered again, attempts starting over.`
              : `Drop ${count(pending)} dead letter(s) of group ${group.name} for good? This cannot be undone.`
          }
          action={pending.act === "redrive" ? "Redrive" : "Purge"}
          onConfirm={() => void act(pending)}
          onCancel={() => setPending(undefined)}
        />
      )}
    </div>
  );
}

function DeleteGroup({ name, onDeleted }: { name: string; onDeleted: () => void }) {
  const [allowed, setAllowed] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void session([{ permission: "group.delete", resource: name }]).then((s) => live && setAllowed(s.allowed[0] === true));
    return () => {
      live = false;
    };
  }, [name]);
  if (!allowed) return null;
  const remove = async (): Promise<void> => {
    setConfirming(false);
    try {
      await call(EventBus.method.deleteGroup, { name });
      onDeleted();
    } catch (failure) {
      setError(describe(failure));
    }
  };
  return (
    <>
      <button type="button" class="danger" onClick={() => setConfirming(true)}>
        Delete group
      </button>
      {error !== undefined && <p class="error">{error}</p>}
      {confirming && (
        <ConfirmDialog
          title="Delete consumer group"
          body={`Delete group ${name} with its position, pending redeliveries and dead letters? Its members' streams end. This cannot be undone.`}
          action="Delete"
          onConfirm={() => void remove()}
          onCancel={() => setConfirming(false)}
        />
      )}
    </>
  );
}

export function GroupsView({ selectedName }: { selectedName: string }) {
  const [groups, setGroups] = useState<GroupInfo[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const load = useCallback(() => {
    call(EventBus.method.listGroups, {}).then(
      (answer) => {
        setGroups(answer.groups);
        setError(undefined);
      },
      (failure: unknown) => setError(describe(failure)),
    );
  }, []);
  useEffect(() => {
    load();
    const timer = setInterval(load, 3_000);
    return () => clearInterval(timer);
  }, [load]);
  const selected = groups?.find((g) => g.name === selectedName);
  return (
    <section class="view">
      {error !== undefined && <p class="error">{error}</p>}
      {groups === undefined ? (
        <p class="empty">Loading…</p>
      ) : groups.length === 0 ? (
        <p class="empty">No consumer groups yet: a group is created by the first subscription that names it.</p>
      ) : (
        <table class="groups">
          <thead>
            <tr>
              <th>group</th>
              <th>patterns</th>
              <th>members</th>
              <th>backlog</th>
              <th>in flight</th>
              <th>delivered</th>
              <th>redelivered</th>
              <th>acked</th>
              <th>nacked</th>
              <th>dead letters</th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <tr key={g.name} class={g.name === selectedName ? "selected" : ""} onClick={() => navigate(`/groups/${encodeURIComponent(g.name)}`)} data-group={g.name}>
                <td>{g.name}</td>
                <td>{g.patterns.join(", ")}</td>
                <td class="num">{g.members}</td>
                <td class="num">{formatCount(g.backlog)}</td>
                <td class="num">{formatCount(g.inFlight)}</td>
                <td class="num">{formatCount(g.delivered)}</td>
                <td class="num">{formatCount(g.redelivered)}</td>
                <td class="num">{formatCount(g.acked)}</td>
                <td class="num">{formatCount(g.nacked)}</td>
                <td class={`num ${g.deadLetters > 0n ? "warn" : ""}`}>{formatCount(g.deadLetters)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected !== undefined && (
        <>
          <div class="panel">
            <h2>
              {selected.name}
              <span class="inline-actions">
                <DeleteGroup
                  name={selected.name}
                  onDeleted={() => {
                    navigate("/groups");
                    load();
                  }}
                />
              </span>
            </h2>
            <dl class="facts">
              <dt>patterns</dt>
              <dd>{selected.patterns.join(", ")}</dd>
              <dt>filter</dt>
              <dd>{selected.filter === "" ? "(none)" : selected.filter}</dd>
              <dt>created</dt>
              <dd>{formatTime(selected.createTime)}</dd>
              <dt>max deliveries</dt>
              <dd>{selected.settings?.maxDeliveries}</dd>
              <dt>expired</dt>
              <dd>{formatCount(selected.expired)}</dd>
              <dt>dead-lettered (ever)</dt>
              <dd>{formatCount(selected.deadLettered)}</dd>
            </dl>
          </div>
          <DeadLetters group={selected} onChanged={load} />
        </>
      )}
    </section>
  );
}
