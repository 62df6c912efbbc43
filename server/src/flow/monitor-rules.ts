/**
 * The flow monitor's rules, as configured (`protobus.yaml`, flags or
 * `PROTOBUS_*` variables).
 */

/** What the flow monitor watches for. */
export interface FlowMonitorRules {
  /**
   * A flow (correlation id) with no terminal event this long after its first
   * event raises `protobus.alert.flow_slow`; 0 turns the rule off.
   */
  readonly slowFlowAfterMs: number;
  /**
   * Globs of the event types that open a watched flow: a correlation id is
   * watched from its first event of such a type. Events of other types
   * (metrics, notifications) never make a flow "slow".
   */
  readonly startTypes: readonly string[];
  /** Globs of terminal event types (`*` matches anything, dots included). */
  readonly terminalTypes: readonly string[];
  /**
   * A type whose count in one bucket exceeds the mean of the window's earlier
   * buckets by this many standard deviations raises
   * `protobus.alert.rate_spike`; 0 turns the rule off.
   */
  readonly rateSpikeSigma: number;
  /** The sliding window the rate baseline is computed over, in ms. */
  readonly rateWindowMs: number;
  /** The bucket (rate sample) length, in ms. */
  readonly rateBucketMs: number;
  /** A bucket with fewer events than this never counts as a spike. */
  readonly rateSpikeMinCount: number;
}

/** Event type of a slow-flow alert. */
export const FLOW_SLOW_ALERT = "protobus.alert.flow_slow";
/** Event type of a rate-spike alert. */
export const RATE_SPIKE_ALERT = "protobus.alert.rate_spike";
/** Source of alert events. */
export const MONITOR_SOURCE = "protobus/flow-monitor";
