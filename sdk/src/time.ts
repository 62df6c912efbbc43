import type { Duration } from "./gen/google/protobuf/duration.pb.js";

/** Converts milliseconds to a `google.protobuf.Duration`. */
export function durationFromMs(ms: number): Duration {
  const whole = Math.trunc(ms);
  const seconds = Math.trunc(whole / 1000);
  return { seconds: BigInt(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** Converts a `google.protobuf.Duration` to milliseconds (0 when absent). */
export function msFromDuration(duration: Duration | undefined): number {
  if (duration === undefined) return 0;
  return Number(duration.seconds) * 1000 + duration.nanos / 1e6;
}
