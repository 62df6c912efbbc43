/**
 * The control messages both kinds of subscription write besides deliveries:
 * heartbeats on a timer, and the `acked` confirmation of settled deliveries.
 */
import type { SubscribeResponse } from "@protobus/sdk/proto";

/**
 * Calls `beat` every `intervalMs` on a timer that does not keep the process
 * alive; none when `intervalMs` is 0. Returns the timer, for `clearInterval`.
 */
export function startHeartbeat(intervalMs: number, beat: () => void): NodeJS.Timeout | undefined {
  if (intervalMs <= 0) return undefined;
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return timer;
}

/** A heartbeat stamped now, with the deliveries the subscription has outstanding. */
export function heartbeatResponse(inFlight: number): SubscribeResponse {
  return { response: { $case: "heartbeat", heartbeat: { time: new Date(), inFlight } } };
}

/** The confirmation that these deliveries are settled. */
export function ackedResponse(deliveryIds: readonly string[]): SubscribeResponse {
  return { response: { $case: "acked", acked: { deliveryIds: [...deliveryIds] } } };
}
