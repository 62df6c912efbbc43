/**
 * A second client that calls `GetBusInfo` on its own connection every
 * `intervalMs` while a test runs, and records the slowest answer: how long
 * the server kept other clients waiting.
 */
import { createClient } from "@protobus/sdk";

/** A running probe. */
export interface LatencyProbe {
  /** Stops probing; resolves to the slowest answer in ms and the number of calls. */
  stop(): Promise<{ maxMs: number; calls: number }>;
}

/** Starts probing `address`. */
export function startLatencyProbe(address: string, intervalMs = 20): LatencyProbe {
  const client = createClient({ address, source: "probe" });
  let stopped = false;
  let maxMs = 0;
  let calls = 0;
  const loop = (async () => {
    await client.info();
    while (!stopped) {
      const started = performance.now();
      await client.info();
      maxMs = Math.max(maxMs, performance.now() - started);
      calls += 1;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await client.close();
      return { maxMs, calls };
    },
  };
}
