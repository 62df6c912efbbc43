/**
 * Gauges of the server's memory budget on `/metrics`: the ceiling
 * (`protobus_memory_budget_bytes`) and the event bytes held against it, by
 * use (`protobus_memory_held_bytes{use="read_ahead"|"unacked"}`).
 */
import { Gauge, type Registry } from "prom-client";
import type { MemoryBudget, MemoryUse } from "../storage/memory-budget.js";

const USES: readonly MemoryUse[] = ["read_ahead", "unacked"];

/** Registers the budget's gauges on `registry`; they read the budget when scraped. */
export function registerMemoryGauges(registry: Registry, budget: MemoryBudget): void {
  const registers = [registry];
  new Gauge({
    name: "protobus_memory_budget_bytes",
    help: "Ceiling of the event bytes held for readers (--memory-budget).",
    registers,
    collect() {
      this.set(budget.limit);
    },
  });
  new Gauge({
    name: "protobus_memory_held_bytes",
    help: "Event bytes held for readers now: consumer-group read-ahead and unacked deliveries.",
    labelNames: ["use"],
    registers,
    collect() {
      for (const use of USES) this.set({ use }, budget.held(use));
    },
  });
}
