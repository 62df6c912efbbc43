/**
 * The storage backend's own figures on `/metrics` (see
 * `StorageBackend.metrics`): each becomes a Prometheus counter or gauge
 * that reads the backend when scraped.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { StorageBackend } from "../storage/backend.js";

/** Registers the metrics `backend` reports, if any, on `registry`. */
export function registerBackendMetrics(registry: Registry, backend: StorageBackend): void {
  const registers = [registry];
  for (const metric of backend.metrics ?? []) {
    if (metric.type === "gauge") {
      new Gauge({
        name: metric.name,
        help: metric.help,
        registers,
        collect() {
          this.set(metric.read());
        },
      });
    } else {
      new Counter({
        name: metric.name,
        help: metric.help,
        registers,
        collect() {
          // A counter cannot be set: it is brought to the backend's count.
          this.reset();
          this.inc(metric.read());
        },
      });
    }
  }
}
