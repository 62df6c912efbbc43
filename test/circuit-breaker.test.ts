/**
 * The circuit breaker: its transitions and listener calls under a fake
 * clock, and the typed events it publishes through a client to a real
 * server (schemas registered from the SDK's own descriptor set).
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  CIRCUIT_BREAKER_EVENT_TYPES,
  CircuitState,
  Code,
  ProtobusError,
  circuitBreakerEvents,
  createCircuitBreaker,
  createRegistryClient,
  syncEventSchemas,
  type CircuitCallOutcome,
  type CircuitStateChange,
} from "@protobus/sdk";
import { CircuitBreakerCallFailed, CircuitBreakerCallRejected, CircuitBreakerState, CircuitBreakerStateChanged } from "@protobus/sdk/proto";
import { startTestServer, waitFor } from "./support/test-server.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

class TestClock {
  ms = 1_000_000;
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

const boom = (): Promise<never> => Promise.reject(new Error("boom"));
const ok = (): Promise<string> => Promise.resolve("ok");

function recording() {
  const changes: CircuitStateChange[] = [];
  const rejected: CircuitCallOutcome[] = [];
  const failed: CircuitCallOutcome[] = [];
  return {
    changes,
    rejected,
    failed,
    listeners: {
      stateChanged: (c: CircuitStateChange) => changes.push(c),
      callRejected: (o: CircuitCallOutcome) => rejected.push(o),
      callFailed: (o: CircuitCallOutcome) => failed.push(o),
    },
  };
}

describe("circuit breaker", () => {
  it("opens at the threshold, rejects while open, half-opens after the reset timeout, and closes on a trial success", async () => {
    const clock = new TestClock();
    const r = recording();
    const breaker = createCircuitBreaker({ name: "payments", failureThreshold: 3, resetTimeout: 10_000, clock, listeners: r.listeners });
    expect(breaker.state).toBe(CircuitState.CLOSED);

    await expect(breaker.execute(boom)).rejects.toThrow("boom");
    await expect(breaker.execute(boom)).rejects.toThrow("boom");
    // A success in between resets the count.
    await expect(breaker.execute(ok)).resolves.toBe("ok");
    expect(breaker.failureCount).toBe(0);
    for (let i = 0; i < 3; i++) await expect(breaker.execute(boom, { correlationId: "flow-9" })).rejects.toThrow("boom");
    expect(breaker.state).toBe(CircuitState.OPEN);
    expect(r.failed.map((f) => f.failureCount)).toEqual([1, 2, 1, 2, 3]);
    expect(r.changes).toHaveLength(1);
    expect(r.changes[0]).toMatchObject({ name: "payments", previousState: "CLOSED", state: "OPEN", failureCount: 3, retryInMs: 10_000, correlationId: "flow-9" });
    expect((r.changes[0]?.error as Error).message).toBe("boom");

    // Open: rejected without calling.
    let called = false;
    const rejection = await breaker.execute(async () => (called = true)).catch((e: unknown) => e as ProtobusError);
    expect(called).toBe(false);
    expect(rejection).toBeInstanceOf(ProtobusError);
    expect((rejection as ProtobusError).code).toBe(Code.UNAVAILABLE);
    expect((rejection as ProtobusError).details[0]).toMatchObject({ type: "ErrorInfo", value: { reason: "CIRCUIT_OPEN" } });
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toMatchObject({ state: "OPEN", retryInMs: 10_000 });

    clock.advance(9_999);
    expect(breaker.state).toBe(CircuitState.OPEN);
    clock.advance(1);
    expect(breaker.state).toBe(CircuitState.HALF_OPEN);
    // One trial at a time (halfOpenMax 1): a second call is rejected while the first runs.
    let finishTrial: (v: string) => void = () => undefined;
    const trial = breaker.execute(() => new Promise<string>((resolve) => (finishTrial = resolve)));
    await expect(breaker.execute(ok)).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    expect(r.rejected.at(-1)).toMatchObject({ state: "HALF_OPEN", retryInMs: 0 });
    finishTrial("done");
    await expect(trial).resolves.toBe("done");
    expect(breaker.state).toBe(CircuitState.CLOSED);
    expect(r.changes.map((c) => `${c.previousState}->${c.state}`)).toEqual(["CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->CLOSED"]);
  });

  it("opens again when a trial fails; errors isFailure rejects neither count nor reset", async () => {
    const clock = new TestClock();
    const r = recording();
    const breaker = createCircuitBreaker({
      name: "search",
      failureThreshold: 2,
      resetTimeout: 1_000,
      halfOpenMax: 2,
      clock,
      listeners: r.listeners,
      isFailure: (error) => !(error instanceof ProtobusError && error.code === Code.INVALID_ARGUMENT),
    });
    const badInput = () => Promise.reject(new ProtobusError(Code.INVALID_ARGUMENT, "bad"));
    for (let i = 0; i < 5; i++) await expect(breaker.execute(badInput)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect(breaker.state).toBe(CircuitState.CLOSED);
    expect(r.failed).toHaveLength(0);
    await expect(breaker.execute(boom)).rejects.toThrow();
    await expect(breaker.execute(badInput)).rejects.toThrow();
    expect(breaker.failureCount).toBe(1);
    await expect(breaker.execute(boom)).rejects.toThrow();
    expect(breaker.state).toBe(CircuitState.OPEN);

    clock.advance(1_000);
    // Two trials may run at once; the first failure reopens the circuit.
    let failFirst: (e: Error) => void = () => undefined;
    const first = breaker.execute(() => new Promise<never>((_, reject) => (failFirst = reject)));
    let finishSecond: (v: string) => void = () => undefined;
    const second = breaker.execute(() => new Promise<string>((resolve) => (finishSecond = resolve)));
    await expect(breaker.execute(ok)).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    failFirst(new Error("still down"));
    await expect(first).rejects.toThrow("still down");
    expect(breaker.state).toBe(CircuitState.OPEN);
    expect(r.changes.map((c) => c.state)).toEqual(["OPEN", "HALF_OPEN", "OPEN"]);
    // A trial let through before the circuit reopened decides nothing now.
    finishSecond("late");
    await expect(second).resolves.toBe("late");
    expect(breaker.state).toBe(CircuitState.OPEN);
    breaker.reset();
    expect(breaker.state).toBe(CircuitState.CLOSED);
    expect(r.changes.at(-1)).toMatchObject({ previousState: "OPEN", state: "CLOSED", failureCount: 0 });
  });

  it("publishes its three event types, typed and registered, with the correlation of the call", async () => {
    const t = await startTestServer();
    cleanups.push(() => t.close());
    const registry = createRegistryClient({ address: t.address });
    cleanups.push(() => registry.close());
    const report = await syncEventSchemas(registry, circuitBreakerEvents());
    expect(report.ok).toBe(true);
    expect(report.results.map((x) => x.subject).sort()).toEqual(Object.values(CIRCUIT_BREAKER_EVENT_TYPES).sort());

    const clock = new TestClock();
    const publishErrors: unknown[] = [];
    const breaker = createCircuitBreaker({
      name: "inventory-api",
      failureThreshold: 2,
      resetTimeout: 5_000,
      clock,
      publisher: t.client,
      publishing: { onError: (e) => publishErrors.push(e) },
    });
    await expect(breaker.execute(() => Promise.reject(new ProtobusError(Code.DEADLINE_EXCEEDED, "slow")), { correlationId: "order-1" })).rejects.toThrow();
    await expect(breaker.execute(boom, { correlationId: "order-2" })).rejects.toThrow();
    await expect(breaker.execute(ok, { correlationId: "order-3" })).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    clock.advance(5_000);
    // Inside a handler, the breaker's events join the handled event's flow.
    const handled = new Promise<string>((resolve) => {
      const sub = t.client.subscribe("checkout.order.placed", async (event) => {
        await breaker.execute(ok);
        resolve(event.id);
      });
      cleanups.push(() => sub.close());
      void sub.opened().then(() => t.client.publish({ type: "checkout.order.placed", correlationId: "order-4" }));
    });
    const handledId = await handled;
    await t.client.flush();
    await waitFor(async () => (await t.client.query({ patterns: ["circuit_breaker.>"] })).events.length === 6, 10_000, "six breaker events");
    expect(publishErrors).toEqual([]);
    const events = (await t.client.query({ patterns: ["circuit_breaker.>"] })).events;
    for (const e of events) {
      expect(e.subject).toBe("inventory-api");
      expect(e.dataContentType).toBe("application/protobuf");
      expect(e.schemaVersion).toBe(1);
    }
    const summary = events.map((e) => {
      switch (e.type) {
        case "circuit_breaker.call.failed": {
          const m = CircuitBreakerCallFailed.decode(e.data);
          return `${e.correlationId} failed ${m.failureCount} ${m.errorCode} ${m.state}`;
        }
        case "circuit_breaker.call.rejected": {
          const m = CircuitBreakerCallRejected.decode(e.data);
          return `${e.correlationId} rejected ${m.state} ${m.retryAt !== undefined}`;
        }
        default: {
          const m = CircuitBreakerStateChanged.decode(e.data);
          return `${e.correlationId} ${m.previousState}->${m.state} ${m.failureCount} ${m.error}`;
        }
      }
    });
    const { CIRCUIT_BREAKER_STATE_CLOSED: CLOSED, CIRCUIT_BREAKER_STATE_OPEN: OPEN, CIRCUIT_BREAKER_STATE_HALF_OPEN: HALF } = CircuitBreakerState;
    expect(summary).toEqual([
      `order-1 failed 1 DEADLINE_EXCEEDED ${CLOSED}`,
      `order-2 failed 2  ${CLOSED}`,
      `order-2 ${CLOSED}->${OPEN} 2 boom`,
      `order-3 rejected ${OPEN} true`,
      `order-4 ${OPEN}->${HALF} 2 `,
      `order-4 ${HALF}->${CLOSED} 0 `,
    ]);
    const inHandler = events.slice(4);
    for (const e of inHandler) expect(e.causationId).toBe(handledId);
    // Typed definitions decode them too.
    const definition = circuitBreakerEvents()[CIRCUIT_BREAKER_EVENT_TYPES.stateChanged];
    expect((definition?.decodeEvent(events[2]!) as unknown as { name: string }).name).toBe("inventory-api");
  });
});
