/**
 * Prometheus metrics of the bus (prom-client, on a registry of its own).
 * Everything that records a metric calls one of the `record*` methods or
 * the {@link DeliveryObserver} methods; nothing else knows about
 * prom-client.
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `protobus_events_published_total` | counter | type |
 * | `protobus_publish_duration_seconds` | histogram | |
 * | `protobus_validation_failures_total` | counter | type |
 * | `protobus_deliveries_total` | counter | type, group |
 * | `protobus_acks_total` | counter | type, group |
 * | `protobus_nacks_total` | counter | type, group |
 * | `protobus_dead_letters_total` | counter | type, group |
 * | `protobus_end_to_end_latency_seconds` | histogram | type, group |
 * | `protobus_group_backlog` | gauge | group |
 * | `protobus_active_subscriptions` | gauge | group |
 * | `protobus_alerts_total` | counter | kind |
 * | `protobus_throttled_requests_total` | counter | principal, limit |
 * | `protobus_rpcs_total` | counter | service, method, code |
 * | `protobus_rpc_duration_seconds` | histogram | service, method (unary calls) |
 *
 * `group` is empty for broadcast subscriptions. `type` is capped (see
 * {@link TypeLabels}): past `--metrics-max-types` distinct types, the rest
 * are counted as `other`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { StoredEvent } from "../storage/backend.js";
import type { Consumer, DeliveryObserver } from "./delivery-observer.js";
import { TypeLabels } from "./type-labels.js";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Reports the backlog (events not yet acked) of each consumer group. */
export type BacklogSource = () => Promise<ReadonlyMap<string, number>> | ReadonlyMap<string, number>;

/** Options of {@link BusMetrics}. */
export interface BusMetricsOptions {
  /** Distinct event types with a `type` label of their own; the rest count as `other` (default 1000). */
  readonly maxTypes?: number;
}

/** The bus's metrics. */
export class BusMetrics implements DeliveryObserver {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  readonly #published: Counter<"type">;
  readonly #publishDuration: Histogram;
  readonly #validationFailures: Counter<"type">;
  readonly #deliveries: Counter<"type" | "group">;
  readonly #acks: Counter<"type" | "group">;
  readonly #nacks: Counter<"type" | "group">;
  readonly #deadLetters: Counter<"type" | "group">;
  readonly #endToEnd: Histogram<"type" | "group">;
  readonly #activeSubscriptions: Gauge<"group">;
  readonly #alerts: Counter<"kind">;
  readonly #rpcs: Counter<"service" | "method" | "code">;
  readonly #rpcDuration: Histogram<"service" | "method">;
  readonly #backlogSources: BacklogSource[] = [];
  readonly #types: TypeLabels;
  readonly #throttled: Counter<"principal" | "limit">;

  constructor(options: BusMetricsOptions = {}) {
    this.#types = new TypeLabels(options.maxTypes);
    const registers = [this.registry];
    this.#published = new Counter({ name: "protobus_events_published_total", help: "Events accepted and stored, by type.", labelNames: ["type"], registers });
    this.#publishDuration = new Histogram({
      name: "protobus_publish_duration_seconds",
      help: "Time from receiving a publish batch to its events being durable.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#validationFailures = new Counter({
      name: "protobus_validation_failures_total",
      help: "Events rejected by validation, by type.",
      labelNames: ["type"],
      registers,
    });
    const typeGroup = ["type", "group"] as const;
    this.#deliveries = new Counter({ name: "protobus_deliveries_total", help: "Deliveries sent to consumers (redeliveries included).", labelNames: typeGroup, registers });
    this.#acks = new Counter({ name: "protobus_acks_total", help: "Deliveries acked.", labelNames: typeGroup, registers });
    this.#nacks = new Counter({ name: "protobus_nacks_total", help: "Deliveries nacked or timed out, to be redelivered.", labelNames: typeGroup, registers });
    this.#deadLetters = new Counter({ name: "protobus_dead_letters_total", help: "Events moved to a dead-letter queue.", labelNames: typeGroup, registers });
    this.#endToEnd = new Histogram({
      name: "protobus_end_to_end_latency_seconds",
      help: "Time from an event's publish to its ack by a consumer.",
      labelNames: typeGroup,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const backlogSources = this.#backlogSources;
    new Gauge({
      name: "protobus_group_backlog",
      help: "Events of a consumer group not yet acked.",
      labelNames: ["group"],
      registers,
      async collect() {
        this.reset();
        for (const source of backlogSources) {
          for (const [group, backlog] of await source()) this.set({ group }, backlog);
        }
      },
    });
    this.#activeSubscriptions = new Gauge({
      name: "protobus_active_subscriptions",
      help: "Open subscriptions, by consumer group (empty for broadcast).",
      labelNames: ["group"],
      registers,
    });
    this.#alerts = new Counter({ name: "protobus_alerts_total", help: "Flow monitor alerts raised, by kind.", labelNames: ["kind"], registers });
    this.#throttled = new Counter({
      name: "protobus_throttled_requests_total",
      help: "Requests refused RESOURCE_EXHAUSTED by a rate limit or quota, by principal ('(connection)' without authentication) and limit.",
      labelNames: ["principal", "limit"],
      registers,
    });
    this.#rpcs = new Counter({
      name: "protobus_rpcs_total",
      help: "gRPC calls handled, by service, method and status code name.",
      labelNames: ["service", "method", "code"],
      registers,
    });
    this.#rpcDuration = new Histogram({
      name: "protobus_rpc_duration_seconds",
      help: "Time from a unary call's arrival to its status.",
      labelNames: ["service", "method"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // The standard process_* and nodejs_* metrics, under their usual names.
    collectDefaultMetrics({ register: this.registry });
  }

  /** An event of this type was accepted and stored (duplicates excluded). */
  recordPublished(type: string): void {
    this.#published.inc({ type: this.#types.label(type) });
  }

  /** A publish batch took this long, in seconds. */
  recordPublishDuration(seconds: number): void {
    this.#publishDuration.observe(seconds);
  }

  /** An event of this type failed validation. */
  recordValidationFailure(type: string): void {
    this.#validationFailures.inc({ type: this.#types.label(type) });
  }

  /** A subscription opened. */
  recordSubscriptionOpened(group: string): void {
    this.#activeSubscriptions.inc({ group });
  }

  /** A subscription closed. */
  recordSubscriptionClosed(group: string): void {
    this.#activeSubscriptions.dec({ group });
  }

  /** The flow monitor raised an alert of this kind (`flow_slow`, `rate_spike`). */
  recordAlert(kind: string): void {
    this.#alerts.inc({ kind });
  }

  /** A request of `principal` was refused by `limit` (`events-per-second`, `subscriptions`, ...). */
  recordThrottled(principal: string, limit: string): void {
    this.#throttled.inc({ principal, limit });
  }

  /**
   * A call ended with this status code name (`OK`, `INVALID_ARGUMENT`...);
   * `seconds` is given for unary calls only (a stream's lifetime is not a latency).
   */
  recordRpc(service: string, method: string, code: string, seconds?: number): void {
    this.#rpcs.inc({ service, method, code });
    if (seconds !== undefined) this.#rpcDuration.observe({ service, method }, seconds);
  }

  /** Adds a reporter of consumer-group backlogs, read at each scrape. */
  addBacklogSource(source: BacklogSource): void {
    this.#backlogSources.push(source);
  }

  delivered(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    this.#deliveries.inc({ type: this.#types.label(stored.type), group: consumer.group });
  }

  acked(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    const type = this.#types.label(stored.type);
    this.#acks.inc({ type, group: consumer.group });
    const published = stored.event.publishTime;
    if (published !== undefined) {
      this.#endToEnd.observe({ type, group: consumer.group }, Math.max(0, Date.now() - published.getTime()) / 1000);
    }
  }

  nacked(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    this.#nacks.inc({ type: this.#types.label(stored.type), group: consumer.group });
  }

  deadLettered(stored: StoredEvent, _attempt: number, consumer: Consumer): void {
    this.#deadLetters.inc({ type: this.#types.label(stored.type), group: consumer.group });
  }

  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
