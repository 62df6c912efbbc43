/**
 * The outbox relay: publishes committed outbox rows, in commit order,
 * through a batching publisher of its own, and records each row's outcome.
 * Written once over the {@link OutboxStore} port.
 *
 * - Only the relay that leads the table publishes (`OutboxStore.lead`); the
 *   others wait and take over when it goes away.
 * - A row is marked after the server stored its event. A relay killed in
 *   between publishes the row again on restart, and the server answers with
 *   the stored sequence (dedupe by the row's event id, within the server's
 *   dedupe window).
 * - A row the server refuses for good (its payload breaks the schema) is
 *   marked with the error and reported to `onError`; later rows of its
 *   ordering key go on.
 * - While the publisher's circuit breaker is open the relay waits instead
 *   of hammering a server that is down.
 */
import { metrics, type ObservableResult } from "@opentelemetry/api";
import { BatchingPublisher, type BatchingOptions } from "../batching-publisher.js";
import type { EventBusClient } from "../gen/protobus/v1/bus.pb.js";
import { ProtobusError } from "../protobus-error.js";
import { TRANSIENT_CODES } from "../transient-codes.js";
import { decodeOutboxEnvelope } from "./outbox-envelope.js";
import type { OutboxBacklog, OutboxOutcome, OutboxRow, OutboxStore } from "./outbox-store.js";

/** Options of {@link createOutboxRelay}. */
export interface OutboxRelayOptions {
  /** Where the rows are (see `createPostgresOutbox(...).relayStore`, `createSqliteOutbox(...).relayStore`). */
  readonly store: OutboxStore;
  /** A client of the server to publish to (`createClient`); the relay uses its connection, not its publisher. */
  readonly client: { readonly raw: EventBusClient };
  /** Rows read and published per round (default 1,000). */
  readonly batchSize?: number;
  /**
   * How long the relay lets rows gather after a round that found fewer than
   * `batchSize`, in ms (default 10): a busy outbox then goes out in fewer,
   * fuller rounds (each round costs the database a read and a write and the
   * server a request). It adds at most this much to an event's delay while
   * rows keep coming; 0 reads again at once.
   */
  readonly lingerMs?: number;
  /** Longest wait for new rows without a notification, in ms (default 1,000). */
  readonly pollIntervalMs?: number;
  /** How often a relay that does not lead asks again, in ms (default 1,000). */
  readonly leaderRetryMs?: number;
  /** Tuning of the relay's batching publisher (its circuit breaker included). */
  readonly batching?: BatchingOptions;
  /** Told about rows refused for good and about failures of the relay itself (it goes on). */
  readonly onError?: (error: unknown, row?: { readonly id: string; readonly eventId: string }) => void;
}

/** Counters of a relay. */
export interface OutboxRelayStats {
  /** True while this relay leads the table. */
  readonly leading: boolean;
  /** Rows published since start (resends of rows already stored included once). */
  readonly published: number;
  /** Rows refused for good since start. */
  readonly failed: number;
  /**
   * Outbox lag: age in ms of the oldest row of the last read, 0 when the
   * last read found nothing waiting.
   */
  readonly lagMs: number;
}

/** A running relay. */
export interface OutboxRelay {
  /** Current counters. */
  readonly stats: OutboxRelayStats;
  /** The relay's batching publisher (its circuit breaker, counters). */
  readonly publisher: BatchingPublisher;
  /** The rows still waiting in the table. */
  backlog(): Promise<OutboxBacklog>;
  /** Resolves once this relay, leading, has found the table empty after the call (at once when it waits for rows now). */
  idle(): Promise<void>;
  /** Stops: finishes the round in progress, gives up the lead, closes its connection. */
  stop(): Promise<void>;
}

const PAUSED = "ORDERING_KEY_PAUSED";

function isPaused(error: unknown): boolean {
  return error instanceof ProtobusError && error.details.some((d) => d.type === "ErrorInfo" && d.value.reason === PAUSED);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

const meter = metrics.getMeter("@protobus/sdk");
const lagGauge = meter.createObservableGauge("protobus.outbox.lag", {
  description: "Age of the oldest outbox row waiting to be published (0 when none waits)",
  unit: "s",
});
const publishedCounter = meter.createCounter("protobus.outbox.published", { description: "Outbox rows published" });
const failedCounter = meter.createCounter("protobus.outbox.failed", { description: "Outbox rows refused for good by the server" });

/**
 * Publishes one batch of rows: the outcomes to record (published, or
 * refused for good), and whether some rows stay pending to be retried
 * (paused behind a refused event of their key, or the server is away).
 */
async function publishRows(
  publisher: BatchingPublisher,
  rows: readonly OutboxRow[],
  onError: NonNullable<OutboxRelayOptions["onError"]>,
): Promise<{ outcomes: OutboxOutcome[]; retry: boolean }> {
  const events = rows.map((row) => decodeOutboxEnvelope(row.envelope));
  const settled = await Promise.allSettled(events.map((event) => publisher.publish(event)));
  const outcomes: OutboxOutcome[] = [];
  let retry = false;
  settled.forEach((result, i) => {
    const row = rows[i] as OutboxRow;
    const event = events[i] as (typeof events)[number];
    if (result.status === "fulfilled") {
      outcomes.push({ id: row.id, published: true, sequence: result.value.sequence });
      return;
    }
    const error = result.reason as unknown;
    // Behind a refused event of its key, or the server is away: stays pending.
    if (isPaused(error) || (error instanceof ProtobusError && TRANSIENT_CODES.has(error.code))) {
      retry = true;
      return;
    }
    outcomes.push({ id: row.id, published: false, error: error instanceof Error ? error.message : String(error) });
    onError(error, { id: row.id, eventId: event.id });
  });
  // Every key paused by this round may go on: a refused row is recorded and skipped.
  for (const event of events) if (event.orderingKey !== "") publisher.resumePublishing(event.orderingKey);
  return { outcomes, retry };
}

/** The wait after `failures` failures in a row: doubling from `baseMs`, at most `maxMs`. */
function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures, 6));
}

/** Counts settled outcomes into the metrics; returns how many were published. */
function countOutcomes(outcomes: readonly OutboxOutcome[], attributes: Record<string, string>): number {
  let ok = 0;
  for (const o of outcomes) if (o.published) ok += 1;
  if (ok > 0) publishedCounter.add(ok, attributes);
  if (outcomes.length > ok) failedCounter.add(outcomes.length - ok, attributes);
  return ok;
}

/**
 * Starts a relay: from now on it publishes the committed rows of `store`.
 *
 * @example
 * const relay = createOutboxRelay({ store: outbox.relayStore({ connectionString }), client });
 * // ...
 * await relay.stop();
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { store } = options;
  const batchSize = Math.max(1, options.batchSize ?? 1_000);
  const lingerMs = Math.max(0, options.lingerMs ?? 10);
  const pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 1_000);
  const leaderRetryMs = Math.max(1, options.leaderRetryMs ?? 1_000);
  const publisher = new BatchingPublisher(options.client.raw, options.batching);
  const onError = options.onError ?? (() => undefined);
  const abort = new AbortController();
  const idleWaiters: Array<() => void> = [];
  let leading = false;
  // True while the relay, leading, waits after a read that found nothing.
  let idleNow = false;
  let published = 0;
  let failed = 0;
  let lagMs = 0;
  let failures = 0;

  const attributes = { "protobus.outbox": store.name };
  const observeLag = (result: ObservableResult): void => result.observe(lagMs / 1000, attributes);
  lagGauge.addCallback(observeLag);

  const run = async (): Promise<void> => {
    const signal = abort.signal;
    while (!signal.aborted) {
      try {
        if (!(await store.lead())) {
          leading = false;
          await sleep(leaderRetryMs, signal);
          continue;
        }
        leading = true;
        const breaker = publisher.circuitBreaker;
        if (breaker !== undefined && breaker.state === "OPEN") {
          // Back off while the server is down; the breaker says when to try again.
          await sleep(100, signal);
          continue;
        }
        const rows = await store.read(batchSize);
        if (signal.aborted) break;
        if (rows.length === 0) {
          lagMs = 0;
          idleNow = true;
          for (const wake of idleWaiters.splice(0)) wake();
          await store.waitForRows(pollIntervalMs, signal);
          idleNow = false;
          continue;
        }
        lagMs = Math.max(0, Date.now() - (rows[0] as OutboxRow).createdAt.getTime());
        const { outcomes, retry } = await publishRows(publisher, rows, onError);
        await store.settle(outcomes);
        const ok = countOutcomes(outcomes, attributes);
        published += ok;
        failed += outcomes.length - ok;
        // Nothing settled and rows wait for a retry: back off.
        failures = retry && outcomes.length === 0 ? failures + 1 : 0;
        if (failures > 0) await sleep(backoffMs(failures, 50, 2_000), signal);
        // A partial batch: more rows are on their way, let them gather.
        else if (rows.length < batchSize && lingerMs > 0) await sleep(lingerMs, signal);
      } catch (error) {
        leading = false;
        onError(error);
        failures += 1;
        await sleep(backoffMs(failures, 100, 5_000), signal);
      }
    }
  };
  const running = run();

  return {
    get stats() {
      return { leading, published, failed, lagMs };
    },
    publisher,
    backlog: () => store.backlog(),
    idle: () => (idleNow && leading ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
    async stop() {
      abort.abort();
      await running;
      lagGauge.removeCallback(observeLag);
      await publisher.close();
      await store.close();
      leading = false;
    },
  };
}
