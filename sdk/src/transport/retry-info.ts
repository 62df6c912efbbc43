/**
 * The server's advice on when to try again: the `google.rpc.RetryInfo`
 * detail of a status (sent with RESOURCE_EXHAUSTED, UNAVAILABLE, ABORTED).
 */
import type { ErrorDetail } from "../status-details.js";

/** The `RetryInfo.retry_delay` among `details`, in ms; undefined when the server sent none. */
export function retryDelayMs(details: readonly ErrorDetail[]): number | undefined {
  for (const detail of details) {
    if (detail.type === "RetryInfo" && detail.value.retryDelay !== undefined) {
      const { seconds, nanos } = detail.value.retryDelay;
      return Math.max(0, Number(seconds) * 1000 + Math.floor(nanos / 1e6));
    }
  }
  return undefined;
}
