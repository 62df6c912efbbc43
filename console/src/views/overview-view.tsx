/**
 * Overview: publish and delivery rates per event type over the last minutes,
 * charted from the server's own counters (GetDeliveryStats sampled every
 * 2 s), the totals since the server started, and the groups at a glance.
 */
import { useEffect, useState } from "preact/hooks";
import { RateChart } from "../components/rate-chart.js";
import { formatCount } from "../format.js";
import type { TypeStats } from "../gen/protobus/v1/bus_pb.js";
import { navigate } from "../router.js";
import { onSample, samplingError, statsSamples, type StatsSample } from "../stats-sampler.js";

const SHOWN_TYPES = 8;

function rates(samples: readonly StatsSample[], types: string[], counter: (t: TypeStats) => bigint): { x: number[]; series: { label: string; values: (number | null)[] }[] } {
  const x: number[] = [];
  const values = types.map(() => [] as (number | null)[]);
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1] as StatsSample;
    const now = samples[i] as StatsSample;
    const seconds = (now.at - before.at) / 1000;
    x.push(now.at / 1000);
    types.forEach((type, j) => {
      const a = before.stats.types.find((t) => t.type === type);
      const b = now.stats.types.find((t) => t.type === type);
      const delta = Number((b === undefined ? 0n : counter(b)) - (a === undefined ? 0n : counter(a)));
      // A restarted server starts its counters over: no negative rates.
      (values[j] as (number | null)[]).push(seconds > 0 && delta >= 0 ? delta / seconds : null);
    });
  }
  return { x, series: types.map((label, j) => ({ label, values: values[j] as (number | null)[] })) };
}

export function OverviewView() {
  const [, setTick] = useState(0);
  useEffect(() => onSample(() => setTick((n) => n + 1)), []);
  const samples = statsSamples();
  const latest = samples[samples.length - 1];
  const error = samplingError();
  const types = [...(latest?.stats.types ?? [])].sort((a, b) => Number(b.published + b.delivered - (a.published + a.delivered)));
  const charted = types.slice(0, SHOWN_TYPES).map((t) => t.type);
  const published = rates(samples, charted, (t) => t.published);
  const delivered = rates(samples, charted, (t) => t.delivered);
  return (
    <section class="view overview">
      {error !== undefined && <p class="error">{error}</p>}
      <div class="charts">
        <div class="panel">
          <RateChart title="published" x={published.x} series={published.series} />
        </div>
        <div class="panel">
          <RateChart title="delivered" x={delivered.x} series={delivered.series} />
        </div>
      </div>
      {samples.length < 2 && <p class="empty">Rates appear after two samples (2 s apart); counters below are since the server started.</p>}
      <div class="panel">
        <h2>Event types</h2>
        {types.length === 0 ? (
          <p class="empty">No events since the server started.</p>
        ) : (
          <table class="type-stats">
            <thead>
              <tr>
                <th>type</th>
                <th>published</th>
                <th>delivered</th>
                <th>acked</th>
                <th>nacked</th>
                <th>expired</th>
                <th>dead-lettered</th>
              </tr>
            </thead>
            <tbody>
              {types.map((t) => (
                <tr key={t.type} data-type={t.type}>
                  <td>{t.type}</td>
                  <td class="num">{formatCount(t.published)}</td>
                  <td class="num">{formatCount(t.delivered)}</td>
                  <td class="num">{formatCount(t.acked)}</td>
                  <td class="num">{formatCount(t.nacked)}</td>
                  <td class="num">{formatCount(t.expired)}</td>
                  <td class={`num ${t.deadLettered > 0n ? "warn" : ""}`}>{formatCount(t.deadLettered)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div class="panel">
        <h2>Groups</h2>
        {(latest?.stats.groups.length ?? 0) === 0 ? (
          <p class="empty">No consumer groups.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>group</th>
                <th>members</th>
                <th>backlog</th>
                <th>in flight</th>
                <th>dead letters</th>
              </tr>
            </thead>
            <tbody>
              {latest?.stats.groups.map((g) => (
                <tr key={g.name} onClick={() => navigate(`/groups/${encodeURIComponent(g.name)}`)} class="clickable">
                  <td>{g.name}</td>
                  <td class="num">{g.members}</td>
                  <td class="num">{formatCount(g.backlog)}</td>
                  <td class="num">{formatCount(g.inFlight)}</td>
                  <td class={`num ${g.deadLetters > 0n ? "warn" : ""}`}>{formatCount(g.deadLetters)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}
