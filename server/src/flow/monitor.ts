/**
 * The flow monitor: watches every accepted event and publishes alerts on the
 * bus itself, as events anyone can subscribe to:
 *
 * - `protobus.alert.flow_slow` when a watched flow (correlation id) has had
 *   no terminal event (`*.completed`, `*.failed` by default) within the
 *   threshold after the event that opened it (`*.created`, `*.started`,
 *   `*.requested` by default). The alert joins that flow: same
 *   correlation id, caused by the flow's first event.
 * - `protobus.alert.rate_spike` when the number of events of one type in a
 *   bucket exceeds the mean of the previous buckets of the sliding window by
 *   N standard deviations (with a Poisson floor, so perfectly steady traffic
 *   does not make every small wobble a spike).
 *
 * Events of `protobus.*` types are not watched. State is in memory and
 * bounded.
 */
import { toEnvelope } from "@protobus/sdk";
import type { Event, PublishResult } from "@protobus/sdk/proto";
import type { EventBus } from "../bus/event-bus.js";
import type { Logger } from "../logger.js";
import type { BusMetrics } from "../telemetry/metrics.js";
import { FLOW_SLOW_ALERT, MONITOR_SOURCE, RATE_SPIKE_ALERT, type FlowMonitorRules } from "./monitor-rules.js";
import { FifoMap } from "../fifo-map.js";
import { compileTypeGlobs } from "./type-glob.js";

/** Most flows tracked at once; the oldest are dropped beyond it. */
const MAX_TRACKED_FLOWS = 100_000;
/** Most finished flows remembered, so late events do not reopen them. */
const MAX_FINISHED_FLOWS = 100_000;
/**
 * Most characters of ids and types the tracked flows hold together, and
 * of correlation ids the finished ones: the oldest are dropped beyond it
 * too. Flows of UUIDs and short types hold ~100 characters each, so the
 * counts bound them first (~13 MB); flows opened with 1,024-character
 * correlation ids, as a client may send, are bounded here instead of
 * holding some 200 MB at the counts' limits.
 */
export const MAX_TRACKED_FLOW_CHARS = 16 * 2 ** 20;
export const MAX_FINISHED_FLOW_CHARS = 8 * 2 ** 20;
/** Most event types whose rate is tracked. */
const MAX_RATE_TYPES = 10_000;

interface OpenFlow {
  readonly startMs: number;
  readonly firstId: string;
  readonly firstType: string;
  count: number;
  lastType: string;
}

interface RateHistory {
  /** Counts of the previous buckets, oldest first. */
  readonly buckets: number[];
  /** Until when (ms) the type does not alert again. */
  quietUntil: number;
}

/** Options of {@link FlowMonitor}. */
export interface FlowMonitorOptions {
  readonly rules: FlowMonitorRules;
  readonly logger: Logger;
  readonly metrics?: BusMetrics;
}

/** Watches a bus and raises alerts on it. */
export class FlowMonitor {
  readonly #bus: EventBus;
  readonly #rules: FlowMonitorRules;
  readonly #logger: Logger;
  readonly #metrics: BusMetrics | undefined;
  readonly #isTerminal: (type: string) => boolean;
  readonly #isStart: (type: string) => boolean;
  // Both drop their oldest entries when full (FifoMap: in O(1), where a Map's
  // `keys().next()` walks every slot deleted before it).
  readonly #flows = new FifoMap<string, OpenFlow>((id, flow) => id.length + flow.firstId.length + 2 * flow.firstType.length);
  readonly #finished = new FifoMap<string, true>((id) => id.length);
  readonly #current = new Map<string, number>();
  readonly #history = new Map<string, RateHistory>();
  readonly #timers: NodeJS.Timeout[] = [];
  #unlisten: (() => void) | undefined;
  #bucketStart = Date.now();

  constructor(bus: EventBus, options: FlowMonitorOptions) {
    this.#bus = bus;
    this.#rules = options.rules;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#isTerminal = compileTypeGlobs(options.rules.terminalTypes);
    this.#isStart = compileTypeGlobs(options.rules.startTypes);
  }

  /**
   * What the monitor holds now: open flows and finished ones, with the
   * characters of their ids and types (each bounded by count and by
   * characters, oldest dropped first).
   */
  held(): { flows: number; flowChars: number; finished: number; finishedChars: number } {
    return { flows: this.#flows.size, flowChars: this.#flows.weight, finished: this.#finished.size, finishedChars: this.#finished.weight };
  }

  /** True when at least one rule is on. */
  get active(): boolean {
    return this.#rules.slowFlowAfterMs > 0 || this.#rules.rateSpikeSigma > 0;
  }

  /** Starts watching. */
  start(): void {
    if (!this.active || this.#unlisten !== undefined) return;
    this.#unlisten = this.#bus.onAccepted((events, results) => this.#observe(events, results));
    if (this.#rules.slowFlowAfterMs > 0) {
      const every = Math.max(20, Math.min(1000, Math.floor(this.#rules.slowFlowAfterMs / 4)));
      this.#timers.push(setInterval(() => this.#checkFlows(Date.now()), every));
    }
    if (this.#rules.rateSpikeSigma > 0) {
      this.#bucketStart = Date.now();
      this.#timers.push(setInterval(() => this.#closeBucket(Date.now()), Math.max(10, this.#rules.rateBucketMs)));
    }
    for (const timer of this.#timers) timer.unref();
  }

  /** Stops watching. */
  stop(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
  }

  #observe(events: readonly Event[], results: readonly PublishResult[]): void {
    const now = Date.now();
    for (let i = 0; i < events.length; i++) {
      if (results[i]?.duplicate !== false) continue;
      const event = events[i] as Event;
      if (event.type.startsWith("protobus.")) continue;
      if (this.#rules.rateSpikeSigma > 0) this.#count(event.type);
      if (this.#rules.slowFlowAfterMs > 0 && event.correlationId !== "") this.#track(event, now);
    }
  }

  #count(type: string): void {
    const count = this.#current.get(type);
    if (count !== undefined) this.#current.set(type, count + 1);
    else if (this.#current.size + this.#history.size < MAX_RATE_TYPES || this.#history.has(type)) this.#current.set(type, 1);
  }

  #track(event: Event, now: number): void {
    const id = event.correlationId;
    if (this.#finished.has(id)) return;
    if (this.#isTerminal(event.type)) {
      this.#flows.delete(id);
      this.#finish(id);
      return;
    }
    const open = this.#flows.get(id);
    if (open !== undefined) {
      open.count += 1;
      open.lastType = event.type;
      return;
    }
    if (!this.#isStart(event.type)) return;
    this.#flows.set(id, { startMs: now, firstId: event.id, firstType: event.type, count: 1, lastType: event.type });
    while (this.#flows.size > MAX_TRACKED_FLOWS || this.#flows.weight > MAX_TRACKED_FLOW_CHARS) this.#flows.shift();
  }

  #finish(id: string): void {
    this.#finished.set(id, true);
    while (this.#finished.size > MAX_FINISHED_FLOWS || this.#finished.weight > MAX_FINISHED_FLOW_CHARS) this.#finished.shift();
  }

  #checkFlows(now: number): void {
    // Flows are in the order they started: stop at the first young one.
    for (let oldest = this.#flows.oldest(); oldest !== undefined; oldest = this.#flows.oldest()) {
      const [id, flow] = oldest;
      const age = now - flow.startMs;
      if (age < this.#rules.slowFlowAfterMs) break;
      this.#flows.shift();
      this.#finish(id);
      this.#raise("flow_slow", {
        type: FLOW_SLOW_ALERT,
        correlationId: id,
        causationId: flow.firstId,
        data: {
          correlationId: id,
          firstEventId: flow.firstId,
          firstEventType: flow.firstType,
          lastEventType: flow.lastType,
          eventCount: flow.count,
          ageMs: age,
          thresholdMs: this.#rules.slowFlowAfterMs,
          terminalTypes: this.#rules.terminalTypes,
        },
      });
    }
  }

  #closeBucket(now: number): void {
    const bucketMs = Math.max(10, this.#rules.rateBucketMs);
    const size = Math.max(2, Math.round(this.#rules.rateWindowMs / bucketMs));
    const minHistory = Math.max(2, Math.floor(size / 2));
    // A late timer makes a longer bucket: counts are scaled to the nominal
    // bucket length so that a busy event loop does not look like a spike.
    const scale = bucketMs / Math.max(bucketMs, now - this.#bucketStart);
    this.#bucketStart = now;
    const types = new Set([...this.#current.keys(), ...this.#history.keys()]);
    for (const type of types) {
      const count = (this.#current.get(type) ?? 0) * scale;
      let history = this.#history.get(type);
      if (history === undefined) {
        history = { buckets: [], quietUntil: 0 };
        this.#history.set(type, history);
      }
      const { buckets } = history;
      if (buckets.length >= minHistory && count >= this.#rules.rateSpikeMinCount && now >= history.quietUntil) {
        const mean = buckets.reduce((a, b) => a + b, 0) / buckets.length;
        const variance = buckets.reduce((a, b) => a + (b - mean) ** 2, 0) / buckets.length;
        const deviation = Math.max(Math.sqrt(variance), Math.sqrt(mean), 1);
        const sigmas = (count - mean) / deviation;
        if (sigmas > this.#rules.rateSpikeSigma) {
          history.quietUntil = now + this.#rules.rateWindowMs;
          this.#raise("rate_spike", {
            type: RATE_SPIKE_ALERT,
            correlationId: "",
            causationId: "",
            data: {
              eventType: type,
              count: Math.round(count),
              bucketMs: this.#rules.rateBucketMs,
              windowMs: this.#rules.rateWindowMs,
              baselineMean: mean,
              baselineStdDev: Math.sqrt(variance),
              sigmas,
              threshold: this.#rules.rateSpikeSigma,
            },
          });
        }
      }
      buckets.push(count);
      if (buckets.length > size) buckets.shift();
      // A type silent for a whole window is forgotten.
      if (count === 0 && buckets.every((b) => b === 0)) this.#history.delete(type);
    }
    this.#current.clear();
  }

  #raise(kind: string, alert: { type: string; correlationId: string; causationId: string; data: Record<string, unknown> }): void {
    this.#metrics?.recordAlert(kind);
    this.#logger.warn(`alert ${alert.type}`, alert.data);
    const event = toEnvelope(
      { type: alert.type, data: alert.data, correlationId: alert.correlationId, causationId: alert.causationId, priority: 1, tags: ["alert"] },
      { source: MONITOR_SOURCE },
    );
    this.#bus.publish([event], { system: true }).catch((error: unknown) => {
      this.#logger.warn("could not publish an alert", { type: alert.type, error: error instanceof Error ? error.message : String(error) });
    });
  }
}
