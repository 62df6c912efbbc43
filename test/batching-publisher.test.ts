/**
 * The batching publisher behind single-event `publish()`: calls ride one
 * PublishStream in batches, and each still settles on its own. Against a
 * real server (in process on SQLite, or a `protobus serve` child process
 * killed with SIGKILL and restarted on the same port).
 */
import { afterEach, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import {
  BatchingPublisher,
  CircuitState,
  Code,
  ProtobusError,
  createClient,
  toEnvelope,
  type ClientOptions,
  type ProtobusClient,
  type PublishResult,
} from "@protobus/sdk";
import { EventBusService, type PublishRequest, type PublishResponse } from "@protobus/sdk/proto";
import { freePort } from "./support/free-port.js";
import { spawnServer, startTestServer, tempDir, type ServerProcess, type TestServer } from "./support/test-server.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(): Promise<TestServer> {
  const t = await startTestServer();
  cleanups.push(() => t.close());
  return t;
}

function client(address: string, options: Omit<ClientOptions, "address"> = {}): ProtobusClient {
  const c = createClient({ address, source: "batching-test", ...options });
  cleanups.push(() => c.close());
  return c;
}

async function storedIds(c: ProtobusClient, pattern: string): Promise<Map<string, bigint>> {
  const ids = new Map<string, bigint>();
  for await (const event of c.queryAll({ patterns: [pattern], limit: 1000 })) {
    expect(ids.has(event.id), `event ${event.id} stored twice`).toBe(false);
    ids.set(event.id, event.sequence);
  }
  return ids;
}

describe("batching publisher", () => {
  it("settles 10,000 concurrent publishes each on its own: one invalid event rejects alone with its field violation", async () => {
    const t = await server();
    const c = client(t.address);
    const bad = 4321;
    const calls = Array.from({ length: 10_000 }, (_, n) =>
      c.publish({ type: n === bad ? "Not A Valid Type" : "batch.item.added", data: { n } }).then(
        (result) => ({ n, result }),
        (error: unknown) => ({ n, error }),
      ),
    );
    const outcomes = await Promise.all(calls);
    const failed = outcomes.filter((o) => "error" in o);
    expect(failed.map((o) => o.n)).toEqual([bad]);
    const error = (failed[0] as { error: unknown }).error;
    expect(error).toBeInstanceOf(ProtobusError);
    expect((error as ProtobusError).code).toBe(Code.INVALID_ARGUMENT);
    // Named as if it had been published alone.
    expect((error as ProtobusError).fieldViolations.map((v) => v.field)).toEqual(["events[0].type"]);

    const resolved = outcomes.flatMap((o) => ("result" in o ? [o.result] : []));
    expect(resolved).toHaveLength(9_999);
    expect(resolved.every((r) => !r.duplicate)).toBe(true);
    // Sent in call order: sequences rise with n.
    for (let i = 1; i < resolved.length; i++) expect(resolved[i]!.sequence > resolved[i - 1]!.sequence).toBe(true);
    const stored = await storedIds(c, "batch.item.added");
    expect(stored.size).toBe(9_999);
    for (const r of resolved) expect(stored.get(r.id)).toBe(r.sequence);
    // Batched: far fewer requests than events, on one stream.
    expect(c.publisher?.stats.batchesSent).toBeLessThan(1_000);
    // The refused batch ended its stream; a second one carried the rest.
    expect(c.publisher?.stats.streamsOpened).toBe(2);
    expect(c.publisher?.circuitBreaker?.state).toBe(CircuitState.CLOSED);
  });

  it("holds no more than maxBufferedEvents; further publishes wait for room", async () => {
    const t = await server();
    const c = client(t.address);
    // A publisher of its own, to read its counters.
    const publisher = new BatchingPublisher(c.raw, { maxBufferedEvents: 50, maxBatchEvents: 10, maxInFlightBatches: 2 });
    cleanups.push(() => publisher.close());
    let maxBuffered = 0;
    let maxWaiting = 0;
    let maxInFlight = 0;
    const sample = (): void => {
      const s = publisher.stats;
      maxBuffered = Math.max(maxBuffered, s.buffered);
      maxWaiting = Math.max(maxWaiting, s.waiting);
      maxInFlight = Math.max(maxInFlight, s.inFlightBatches);
    };
    const calls: Promise<PublishResult>[] = [];
    for (let n = 0; n < 2_000; n++) {
      calls.push(publisher.publish(toEnvelope({ type: "bound.item.added", data: { n } }, { source: "s" })).finally(sample));
      sample();
    }
    const results = await Promise.all(calls);
    expect(maxBuffered).toBe(50);
    expect(maxWaiting).toBeGreaterThan(1_000);
    expect(maxInFlight).toBeLessThanOrEqual(2);
    for (let i = 1; i < results.length; i++) expect(results[i]!.sequence).toBe(results[i - 1]!.sequence + 1n);
    expect(publisher.stats.batchesSent).toBeGreaterThanOrEqual(200);
    expect(publisher.stats.buffered).toBe(0);
  });

  it("sends at once while at most one batch is in flight; past that a batch gathers events for the linger", async () => {
    // A real gRPC server whose PublishStream answers only when the test lets it,
    // so that the batches sent stay in flight.
    const received: number[] = [];
    const held: Array<() => void> = [];
    let holding = true;
    let nextSequence = 1n;
    const server = new grpc.Server();
    server.addService(EventBusService as unknown as grpc.ServiceDefinition, {
      publishStream: (call: grpc.ServerDuplexStream<PublishRequest, PublishResponse>) => {
        call.on("data", (request: PublishRequest) => {
          received.push(request.events.length);
          const results = request.events.map((event) => ({ id: event.id, sequence: nextSequence++, duplicate: false }));
          if (holding) held.push(() => call.write({ results }));
          else call.write({ results });
        });
        call.on("end", () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    cleanups.push(() => server.forceShutdown());
    // A linger far longer than the test: a batch that waits for it arrives only when answers free it.
    const c = client(`127.0.0.1:${port}`, { batching: { lingerMs: 60_000, maxInFlightBatches: 8 } });
    const calls: Promise<PublishResult>[] = [];
    for (let n = 0; n < 6; n++) {
      calls.push(c.publish({ type: "window.item.added", data: { n } }));
      // Each publish in a turn of its own.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // With none and then one in flight, each went at once, alone: two batches of one event.
    const deadline = Date.now() + 5_000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([1, 1]);
    // The other four gathered behind two batches in flight; once answers leave
    // at most one in flight they go at once, as one batch.
    holding = false;
    for (const answer of held.splice(0)) answer();
    const results = await Promise.all(calls);
    expect(received).toEqual([1, 1, 4]);
    expect(results.map((r) => r.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
  });

  it("keeps each ordering key's order; a failed event pauses its key until resumePublishing", async () => {
    const t = await server();
    const c = client(t.address, { batching: { lingerMs: 5 } });
    const keys = ["k0", "k1", "k2"];
    const calls = Array.from({ length: 300 }, (_, n) => {
      const key = keys[n % 3] as string;
      // 152 % 3 === 2: an event of key k2 in the middle.
      const invalid = n === 152;
      return c
        .publish({ type: invalid ? "BAD" : "order.item.added", orderingKey: key, data: { n } })
        .then((result) => ({ n, key, result }), (error: unknown) => ({ n, key, error: error as ProtobusError }));
    });
    const outcomes = await Promise.all(calls);
    for (const o of outcomes) {
      if (o.key !== "k2" || o.n < 152) expect("result" in o, `event ${o.n} (${o.key}) resolves`).toBe(true);
    }
    const bad = outcomes.find((o) => o.n === 152) as { error: ProtobusError };
    expect(bad.error.code).toBe(Code.INVALID_ARGUMENT);
    const after = outcomes.filter((o) => o.key === "k2" && o.n > 152);
    expect(after.length).toBeGreaterThan(0);
    for (const o of after) {
      expect("error" in o).toBe(true);
      const error = (o as { error: ProtobusError }).error;
      expect(error.code).toBe(Code.FAILED_PRECONDITION);
      expect(error.details.some((d) => d.type === "ErrorInfo" && d.value.reason === "ORDERING_KEY_PAUSED")).toBe(true);
    }
    // Stored order per key is call order, with no gap before the failure.
    const stored: Array<{ key: string; n: number }> = [];
    for await (const e of c.queryAll({ patterns: ["order.item.added"], limit: 1000 })) {
      stored.push({ key: e.orderingKey, n: (JSON.parse(Buffer.from(e.data).toString()) as { n: number }).n });
    }
    for (const key of keys) {
      const ns = stored.filter((s) => s.key === key).map((s) => s.n);
      const expected = outcomes.filter((o) => o.key === key && "result" in o).map((o) => o.n);
      expect(ns).toEqual(expected);
    }
    // Still paused, then resumed.
    await expect(c.publish({ type: "order.item.added", orderingKey: "k2" })).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    c.resumePublishing("k2");
    await expect(c.publish({ type: "order.item.added", orderingKey: "k2" })).resolves.toMatchObject({ duplicate: false });
  });

  it("flush() sends at once and waits for every earlier publish; close() drains before the channel closes", async () => {
    const t = await server();
    const c = createClient({ address: t.address, source: "drain", batching: { lingerMs: 60_000, maxBatchEvents: 1_000 } });
    const settled: string[] = [];
    const calls = Array.from({ length: 20 }, (_, n) => c.publish({ type: "drain.item.added", data: { n } }).then((r) => void settled.push(r.id)));
    const started = Date.now();
    await c.flush();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(settled).toHaveLength(20);
    await Promise.all(calls);

    const more = Array.from({ length: 30 }, (_, n) => c.publish({ type: "drain.item.added", data: { n } }));
    await c.close();
    await expect(c.publish({ type: "drain.item.added" })).rejects.toMatchObject({ code: Code.CANCELLED });
    const results = await Promise.all(more);
    expect(results).toHaveLength(30);
    const reader = client(t.address);
    expect((await storedIds(reader, "drain.item.added")).size).toBe(50);
  });

  it("resends after the server is killed mid-stream and restarted: every resolved publish is stored exactly once", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const port = await freePort();
    const args = ["--data-dir", dir.path, "--store", "sqlite"];
    let proc: ServerProcess = await spawnServer(args, {}, port);
    cleanups.push(() => proc.stop("SIGKILL"));
    const c = client(proc.address, { batching: { circuitBreaker: { failureThreshold: 1_000 }, retryMaxDelayMs: 200 } });

    const total = 6_000;
    let resolvedCount = 0;
    const calls: Promise<PublishResult>[] = [];
    let killed = false;
    const restarted = (async () => {
      // Publish in waves so that batches are in flight when the server dies.
      for (let n = 0; n < total; n++) {
        calls.push(
          c.publish({ type: "crash.item.added", data: { n } }).then((r) => {
            resolvedCount += 1;
            return r;
          }),
        );
        if (n % 500 === 499) await new Promise((r) => setTimeout(r, 5));
        if (!killed && n === 3_000) {
          killed = true;
          await proc.stop("SIGKILL");
          proc = await spawnServer(args, {}, port);
        }
      }
    })();
    await restarted;
    const results = await Promise.all(calls);
    expect(killed).toBe(true);
    expect(resolvedCount).toBe(total);
    // The stream was lost with batches on it and opened again.
    expect(c.publisher?.stats.streamsOpened).toBeGreaterThan(1);
    const stored = await storedIds(c, "crash.item.added");
    expect(stored.size).toBe(total);
    for (const r of results) expect(stored.get(r.id)).toBe(r.sequence);
    expect(new Set(results.map((r) => r.sequence)).size).toBe(total);
  });

  it("fails fast with UNAVAILABLE once the circuit is open, and recovers when the server is back", async () => {
    const port = await freePort();
    // The breaker reads a fake clock, so a slow machine cannot move the
    // circuit to HALF_OPEN (and let a real call out) in the middle of the
    // fail-fast checks; the reset timeout passes when the test says so.
    let now = 0;
    const c = client(`127.0.0.1:${port}`, {
      batching: { circuitBreaker: { failureThreshold: 3, resetTimeout: 300, clock: { now: () => now } }, retryInitialDelayMs: 10 },
    });
    const first = await c.publish({ type: "dead.item.added" }).catch((e: unknown) => e as ProtobusError);
    expect(first).toBeInstanceOf(ProtobusError);
    expect((first as ProtobusError).code).toBe(Code.UNAVAILABLE);
    expect(c.publisher?.circuitBreaker?.state).toBe(CircuitState.OPEN);
    const elapsed: number[] = [];
    for (let i = 0; i < 21; i++) {
      const started = performance.now();
      const error = await c.publish({ type: "dead.item.added" }).catch((e: unknown) => e as ProtobusError);
      elapsed.push(performance.now() - started);
      expect((error as ProtobusError).code).toBe(Code.UNAVAILABLE);
      expect((error as ProtobusError).details.some((d) => d.type === "ErrorInfo" && d.value.reason === "CIRCUIT_OPEN")).toBe(true);
    }
    // Every call was refused by the open circuit (CIRCUIT_OPEN, no call
    // went out); the typical one within 10 ms. The median, not each call,
    // is bounded: on a shared 2-core machine the test process itself may
    // be descheduled for longer than that.
    elapsed.sort((a, b) => a - b);
    expect(elapsed[10]).toBeLessThan(10);
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const proc = await spawnServer(["--data-dir", dir.path, "--store", "sqlite"], {}, port);
    cleanups.push(() => proc.stop("SIGKILL"));
    now += 300;
    // HALF_OPEN: a trial goes through and closes the circuit.
    let result: PublishResult | undefined;
    for (let i = 0; i < 50 && result === undefined; i++) {
      result = await c.publish({ type: "dead.item.added" }).catch(async () => {
        now += 300;
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }
    expect(result?.sequence).toBe(1n);
    expect(c.publisher?.circuitBreaker?.state).toBe(CircuitState.CLOSED);
  });

  it("keeps the unary path with batching: false", async () => {
    const t = await server();
    const c = client(t.address, { batching: false });
    expect(c.publisher).toBeUndefined();
    const r = await c.publish({ type: "unary.item.added" });
    expect(r.sequence).toBe(1n);
    await expect(c.publish({ type: "BAD" })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });
});
