// Sizing the backlog of a drain scenario: a backlog that runs out during
// the window would count idle time as slowness, and a fixed size that is
// enough on one machine runs out on a faster one. The workload drains a
// probe first, times its second half (past the consumer's start-up), and
// stores enough for that rate over the whole measurement, with a margin.

/** Events the probe drains before the backlog is sized. */
export const PROBE_EVENTS = 20_000;

// The rate may rise after the probe (JIT, caches): twice what the probe predicts.
const MARGIN = 2;
// Seconds beyond warm-up and window: start-up, snapshots, the stretch of a slow window.
const SLACK_SECONDS = 2;

/**
 * The backlog to store: at least `minimum`, and enough for `rate` events/s
 * over `measureSeconds` (warm-up and window) with a margin.
 */
export function backlogSize({ rate, measureSeconds, minimum }) {
  if (!(rate > 0)) throw new Error(`the drain probe measured no rate (${rate}); the backlog cannot be sized`);
  return Math.max(minimum, Math.ceil(rate * (measureSeconds + SLACK_SECONDS) * MARGIN));
}

/**
 * Times a drain of `total` events: resolves to the rate of its second half
 * once `delivered()` reaches `total`, or throws after `timeoutMs`.
 */
export async function timeDrain({ total, delivered, timeoutMs = 120_000 }) {
  const deadline = Date.now() + timeoutMs;
  const half = Math.floor(total / 2);
  let halfAt;
  while (delivered() < total) {
    if (Date.now() > deadline) throw new Error(`the drain probe moved ${delivered()} of ${total} events in ${timeoutMs / 1000} s`);
    if (halfAt === undefined && delivered() >= half) halfAt = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  halfAt ??= process.hrtime.bigint();
  const seconds = Math.max(Number(process.hrtime.bigint() - halfAt) / 1e9, 0.005);
  return (total - half) / seconds;
}
