/**
 * Issue 14, row 13: 20,000 raw TCP sockets that never speak HTTP/2 were
 * kept open (+315 MB after 30 s), and one connection could open any number
 * of streams. Now a socket must send the HTTP/2 preface within
 * `--handshake-timeout` or it is closed, at most `--max-connections` are
 * served (calls on one more fail with RESOURCE_EXHAUSTED naming the limit),
 * and `--max-streams-per-connection` caps the streams of one connection.
 * Scaled down: 2,000 silent sockets and a 1 s timeout (instead of 20,000
 * and the 10 s default), 20 connections, 50 streams.
 */
import { connect } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Code, ProtobusError, createClient } from "@protobus/sdk";
import { loadPlainService, plainUnary } from "../support/plain-client.js";
import { openSockets } from "../support/client-sockets.js";
import { mib, rssBytes } from "../support/process-memory.js";
import { spawnServer, tempDir, waitFor, type ServerProcess } from "../support/test-server.js";

/** A plain EventBus client on a connection of its own. */
function ownConnection(address: string): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
  const EventBus = loadPlainService("protobus/v1/bus.proto", "protobus.v1.EventBus");
  return new EventBus(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }) as unknown as grpc.Client &
    Record<string, (...args: unknown[]) => unknown>;
}

describe("connections", () => {
  const cleanups: Array<() => unknown> = [];
  let server: ServerProcess;
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(): Promise<void> {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    server = await spawnServer([
      "--data-dir",
      dir.path,
      "--handshake-timeout",
      "1s",
      "--max-connections",
      "20",
      "--max-streams-per-connection",
      "50",
    ]);
    cleanups.push(() => server.stop("SIGKILL"));
  }

  it("closes sockets that never speak HTTP/2, and serves others meanwhile", async () => {
    await start();
    const client = createClient({ address: server.address, source: "connections" });
    cleanups.push(() => client.close());
    await client.info();
    const before = rssBytes(server.process.pid as number);
    const [host, port] = server.address.split(":") as [string, string];
    // In bursts of 200 (see openSockets).
    const silent = await openSockets(host, Number(port), 2000, { burst: 200 });
    cleanups.push(() => silent.destroy());
    // Something that is not HTTP/2 is closed at once.
    const junk = connect(Number(port), host, () => junk.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    junk.on("error", () => undefined);
    const junkClosed = new Promise<void>((resolve) => junk.once("close", () => resolve()));
    await junkClosed;
    // Served while 2,000 silent sockets are open.
    const answered = Date.now();
    await client.info();
    expect(Date.now() - answered).toBeLessThan(1000);
    const during = rssBytes(server.process.pid as number);
    await waitFor(() => silent.closed() === 2000, 20_000, () => `the server to close every silent socket (${2000 - silent.closed()} still open)`);
    const after = rssBytes(server.process.pid as number);
    expect(during - before, `RSS ${mib(before)} -> ${mib(during)} with 2,000 sockets open`).toBeLessThan(40 * 2 ** 20);
    expect(after - before, `RSS ${mib(before)} -> ${mib(after)} after they closed`).toBeLessThan(40 * 2 ** 20);
    await client.info();
  }, 30_000);

  it("refuses calls on connections over --max-connections with RESOURCE_EXHAUSTED naming the limit", async () => {
    await start();
    const clients = Array.from({ length: 20 }, () => ownConnection(server.address));
    cleanups.push(() => clients.forEach((c) => c.close()));
    for (const c of clients) await plainUnary(c, "GetBusInfo", {});
    const extra = ownConnection(server.address);
    cleanups.push(() => extra.close());
    const error = await plainUnary(extra, "GetBusInfo", {}).then(
      () => undefined,
      (e: unknown) => ProtobusError.from(e),
    );
    expect(error?.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(error?.errorInfo?.metadata.limit).toBe("max-connections");
    expect(error?.quotaViolations[0]?.quotaId).toBe("max-connections");
    expect(error?.quotaViolations[0]?.quotaValue).toBe(20n);
    extra.close();
    // One connection fewer: a new one is served.
    (clients.pop() as grpc.Client).close();
    const next = ownConnection(server.address);
    cleanups.push(() => next.close());
    await waitFor(
      () => plainUnary(next, "GetBusInfo", {}).then(() => true, () => false),
      10_000,
      "a connection to be served once another closed",
    );
  }, 30_000);

  it("caps the streams of one connection", async () => {
    await start();
    const c = ownConnection(server.address);
    cleanups.push(() => c.close());
    const calls: grpc.ClientDuplexStream<unknown, Record<string, unknown>>[] = [];
    let opened = 0;
    for (let i = 0; i < 80; i++) {
      const call = (c.Subscribe as () => grpc.ClientDuplexStream<unknown, Record<string, unknown>>)();
      call.on("data", (message: Record<string, unknown>) => {
        if (message.opened !== undefined && message.opened !== null) opened += 1;
      });
      call.on("error", () => undefined);
      call.write({ open: { patterns: ["conn.>"] } });
      calls.push(call);
    }
    await waitFor(() => opened >= 50, 10_000, "50 streams to open");
    await new Promise((r) => setTimeout(r, 500));
    expect(opened).toBe(50);
    // Ending ten lets ten of the waiting ones open.
    for (const call of calls.slice(0, 10)) call.cancel();
    await waitFor(() => opened >= 60, 10_000, "ten more streams to open");
    for (const call of calls) call.cancel();
  }, 30_000);
});
