/**
 * Samples the server's own delivery counters (GetDeliveryStats) every
 * {@link SAMPLE_MS} while the page is open and keeps the last
 * {@link WINDOW_MS}, so the overview can chart rates per type over the last
 * minutes from any view the person came from.
 */
import { call } from "./api.js";
import { EventBus, type DeliveryStats } from "./gen/protobus/v1/bus_pb.js";

/** How often the counters are read. */
export const SAMPLE_MS = 2_000;
/** How much history is kept. */
export const WINDOW_MS = 10 * 60_000;

/** The counters at one instant. */
export interface StatsSample {
  readonly at: number;
  readonly stats: DeliveryStats;
}

const samples: StatsSample[] = [];
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | undefined;
let lastError: string | undefined;

async function sample(): Promise<void> {
  try {
    const stats = await call(EventBus.method.getDeliveryStats, {});
    lastError = undefined;
    samples.push({ at: Date.now(), stats });
    while (samples.length > 0 && (samples[0]?.at ?? 0) < Date.now() - WINDOW_MS) samples.shift();
  } catch (error) {
    lastError = (error as Error).message;
  }
  for (const listener of listeners) listener();
}

/** Starts sampling (once per page). */
export function startSampling(): void {
  if (timer !== undefined) return;
  void sample();
  timer = setInterval(() => void sample(), SAMPLE_MS);
}

/** The samples so far, oldest first. */
export function statsSamples(): readonly StatsSample[] {
  return samples;
}

/** Why the last sample failed, if it did. */
export function samplingError(): string | undefined {
  return lastError;
}

/** Calls `listener` after each sample; returns the unsubscribe. */
export function onSample(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
