/**
 * Issue 14, row 13, for the HTTP endpoints beside the gRPC listener
 * (`/metrics` and the console): they keep the gRPC listener's limits. A
 * socket that never sends a request head, or stops half way through one, is
 * closed within `--handshake-timeout` (Node's own defaults kept such sockets
 * for a minute or more), and at most `--max-connections` sockets are open at
 * once, while the endpoints go on answering. The console streams at most
 * `--console-max-live-views` live views at once (each may hold 1 MiB unsent).
 */
import { afterEach, describe, expect, it } from "vitest";
import { openSockets, type OpenedSockets } from "../support/client-sockets.js";
import { createClient, freePort, spawnServer, tempDir, waitFor, type ServerProcess } from "../support/test-server.js";

describe("HTTP endpoints", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(flags: string[]): Promise<{ server: ServerProcess; metricsPort: number; consolePort: number }> {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const metricsPort = await freePort();
    const consolePort = await freePort();
    const server = await spawnServer(["--data-dir", dir.path, "--metrics-port", String(metricsPort), "--console-port", String(consolePort), ...flags]);
    cleanups.push(() => server.stop("SIGKILL"));
    return { server, metricsPort, consolePort };
  }

  /** Opens `count` sockets to `port` of the loopback in bursts of 100, destroyed after the test; `first` is written on each. */
  async function openLocalSockets(port: number, count: number, first?: string): Promise<OpenedSockets> {
    const opened = await openSockets("127.0.0.1", port, count, first === undefined ? {} : { first });
    cleanups.push(() => opened.destroy());
    return opened;
  }

  /** A console live view: its HTTP status, what it has streamed so far (or the error body), and whether it ended. */
  interface LiveView {
    readonly status: number;
    text(): string;
    ended(): boolean;
    abort(): void;
  }

  /** Opens a live view of `patterns` and reads it in the background until it ends or is aborted. */
  async function openLiveView(consolePort: number, patterns: string[]): Promise<LiveView> {
    const controller = new AbortController();
    cleanups.push(() => controller.abort());
    const response = await fetch(`http://127.0.0.1:${consolePort}/api/protobus.v1.EventBus/Subscribe`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ open: { patterns } }),
      signal: controller.signal,
    });
    let text = "";
    let ended = false;
    if (response.status !== 200) {
      text = await response.text();
      ended = true;
    } else {
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      void (async () => {
        for (;;) {
          const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
          if (done) break;
          text += Buffer.from(value as Uint8Array).toString("utf8");
        }
        ended = true;
      })();
    }
    return { status: response.status, text: () => text, ended: () => ended, abort: () => controller.abort() };
  }

  /** Waits until `view` says it is open. */
  async function opened(view: LiveView): Promise<void> {
    await waitFor(() => view.text().includes("event: opened"), 10_000, () => `the live view to open (got ${JSON.stringify(view.text())})`);
  }

  it("close sockets that send no request head, or half of one, within --handshake-timeout, and answer meanwhile", async () => {
    const { metricsPort, consolePort } = await start(["--handshake-timeout", "1s"]);
    const silent = [await openLocalSockets(metricsPort, 300), await openLocalSockets(consolePort, 300)];
    const halfHead = [await openLocalSockets(metricsPort, 50, "GET /metrics HTTP/1.1\r\nHost: x\r\n"), await openLocalSockets(consolePort, 50, "GET / HTTP/1.1\r\n")];
    const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain("protobus_");
    expect((await fetch(`http://127.0.0.1:${consolePort}/`)).status).toBe(200);
    const open = (): number => [...silent, ...halfHead].reduce((sum, s) => sum + s.sockets.length - s.closed(), 0);
    await waitFor(() => open() === 0, 20_000, () => `the endpoints to close every silent socket (${open()} still open)`);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
  }, 60_000);

  it("keep a live view's stream open past the handshake timeout", async () => {
    const { server, consolePort } = await start(["--handshake-timeout", "1s"]);
    const view = await openLiveView(consolePort, ["http.>"]);
    expect(view.status).toBe(200);
    await opened(view);
    // Past the handshake timeout the view is still open, and still delivers.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(view.ended()).toBe(false);
    const bus = createClient({ address: server.address, source: "http-endpoints" });
    cleanups.push(() => bus.close());
    await bus.publish({ type: "http.view.checked" });
    await waitFor(() => view.text().includes("http.view.checked"), 10_000, "the event to reach the live view");
    expect(view.ended()).toBe(false);
  }, 30_000);

  it("refuse live views past --console-max-live-views with RESOURCE_EXHAUSTED naming the limit, and open one again once another closes", async () => {
    const { consolePort } = await start(["--console-max-live-views", "3"]);
    const open = async (): Promise<LiveView> => {
      const view = await openLiveView(consolePort, ["views.>"]);
      if (view.status === 200) await opened(view);
      return view;
    };
    const views = [await open(), await open(), await open()];
    expect(views.map((v) => v.status)).toEqual([200, 200, 200]);
    const refused = await open();
    expect(refused.status).toBe(429);
    const error = JSON.parse(refused.text()) as { code: string; message: string; details?: Array<{ type: string; debug?: { reason?: string; metadata?: Record<string, string> } }> };
    expect(error.code).toBe("resource_exhausted");
    expect(error.message).toContain("console-max-live-views");
    const info = error.details?.find((d) => d.type === "google.rpc.ErrorInfo");
    expect(info?.debug?.reason).toBe("LIMIT_EXCEEDED");
    expect(info?.debug?.metadata?.limit).toBe("console-max-live-views");
    views[0]?.abort();
    let again: LiveView = refused;
    await waitFor(
      async () => {
        again = await open();
        return again.status === 200;
      },
      10_000,
      () => `a live view to open once another closed (last: ${again.status})`,
    );
  }, 30_000);

  it("serve at most --max-connections sockets at once, and serve again once some close", async () => {
    const { metricsPort } = await start(["--handshake-timeout", "30s", "--max-connections", "20"]);
    const held = await openLocalSockets(metricsPort, 20);
    // One more is dropped at once.
    const extra = await openLocalSockets(metricsPort, 1);
    await waitFor(() => extra.closed() === 1, 10_000, "the socket over the limit to be closed");
    expect(held.closed()).toBe(0);
    held.sockets.slice(0, 5).forEach((s) => s.destroy());
    await waitFor(
      () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.status === 200, () => false),
      10_000,
      "a scrape to be served once sockets closed",
    );
  }, 30_000);
});
