/**
 * The live view on a browser that stops reading costs the bus nothing: a
 * real server with the console and `/metrics`, real Chromium (through
 * playwright-core) holding the live stream open without reading it, events
 * published by the SDK all along. Once the browser's socket has been full
 * for the console's lag limit, the live view's subscription is closed (the
 * bus delivers nothing to it); when the browser reads again it is opened at
 * the newest event, and what it skipped is counted as dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ProtobusClient } from "@protobus/sdk";
import { chromiumAvailable, openBrowser, type OfflineBrowser } from "../support/chromium.js";
import { freePort, startTestServer, waitFor, type TestServer } from "../support/test-server.js";

const TYPE = "demo.stall.sent";

/** The stream a page holds, kept on the page's global object between evaluations. */
interface HeldStream {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  text: string;
}
type PageGlobal = typeof globalThis & { heldStream?: HeldStream };

/** In the page: opens the live stream of `pattern`, reads its first chunk (`opened`), then reads nothing more. */
async function openWithoutReading(args: { url: string; pattern: string }): Promise<void> {
  const response = await fetch(args.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ open: { patterns: [args.pattern] } }),
  });
  if (response.body === null) throw new Error(`no stream: HTTP ${response.status}`);
  const held: HeldStream = { reader: response.body.getReader(), text: "" };
  (globalThis as PageGlobal).heldStream = held;
  const first = await held.reader.read();
  held.text += new TextDecoder().decode(first.value);
}

/** In the page: reads the held stream from now on, as fast as it comes. */
function readFromNowOn(): void {
  const held = (globalThis as PageGlobal).heldStream;
  if (held === undefined) throw new Error("no held stream");
  const decoder = new TextDecoder();
  const pump = async (): Promise<void> => {
    for (;;) {
      const { value, done } = await held.reader.read();
      if (done) return;
      held.text += decoder.decode(value, { stream: true });
    }
  };
  void pump();
}

/** In the page: the newest `status` the stream carried, and the sequences of the events it showed. */
function readSoFar(): { status: { delivered: number; dropped: number } | undefined; sequences: string[] } {
  const text = (globalThis as PageGlobal).heldStream?.text ?? "";
  const statuses = [...text.matchAll(/event: status\ndata: (\{[^\n]*\})/g)];
  const last = statuses.at(-1)?.[1];
  const sequences: string[] = [];
  for (const match of text.matchAll(/event: events\ndata: (\[[^\n]*\])/g)) {
    for (const event of JSON.parse(match[1] as string) as { sequence?: string }[]) sequences.push(event.sequence ?? "0");
  }
  return { status: last === undefined ? undefined : (JSON.parse(last) as { delivered: number; dropped: number }), sequences };
}

describe.skipIf(!chromiumAvailable())("web console: the live view on a browser that stops reading", () => {
  let t: TestServer;
  let b: OfflineBrowser;
  let origin: string;
  let metricsUrl: string;
  let publisher: ProtobusClient;

  beforeAll(async () => {
    t = await startTestServer({ store: "memory", consolePort: await freePort(), metricsPort: await freePort() });
    origin = t.server.consoleUrl ?? "";
    metricsUrl = `http://127.0.0.1:${t.server.metricsPort}/metrics`;
    publisher = createClient({ address: t.address, source: "stall-test" });
    b = await openBrowser(origin);
    // A view without a live stream of its own.
    await b.page.goto(`${origin}overview`);
  });
  afterAll(async () => {
    await b?.close();
    await publisher?.close();
    await t?.close();
  });

  /** Open broadcast subscriptions, from the server's `/metrics`. */
  const broadcastSubscriptions = async (): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    const match = /^protobus_active_subscriptions\{group=""\} (\d+)$/m.exec(text);
    return match === null ? 0 : Number(match[1]);
  };
  const counters = async (): Promise<{ published: bigint; delivered: bigint }> => {
    const stats = (await publisher.deliveryStats()).types.find((s) => s.type === TYPE);
    return { published: BigInt(stats?.published ?? 0), delivered: BigInt(stats?.delivered ?? 0) };
  };

  it("closes its subscription while the browser takes nothing, and opens it at the newest event when it reads again", async () => {
    await b.page.evaluate(openWithoutReading, { url: new URL("api/protobus.v1.EventBus/Subscribe", origin).href, pattern: "demo.stall.*" });
    await waitFor(async () => (await broadcastSubscriptions()) === 1, 10_000, "the live view's subscription");

    // Publishing goes on all along: 10 events of 16 KiB every 50 ms.
    let publishing = true;
    const data = { blob: "x".repeat(16 * 1024) };
    const publishes = (async () => {
      while (publishing) {
        await publisher.publish(Array.from({ length: 10 }, () => ({ type: TYPE, data })));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      // The browser's buffers and socket fill, then the lag limit (2 s) passes.
      await waitFor(async () => (await broadcastSubscriptions()) === 0, 30_000, "the live view's subscription closed");
      const stopped = await counters();
      await new Promise((r) => setTimeout(r, 1_000));
      const later = await counters();
      expect(later.published).toBeGreaterThan(stopped.published);
      expect(later.delivered).toBe(stopped.delivered);

      // The browser reads again: the live view starts at the newest event.
      const head = (await publisher.info()).headSequence;
      await b.page.evaluate(readFromNowOn);
      await waitFor(async () => (await broadcastSubscriptions()) === 1, 30_000, "the live view's subscription opened again");
      await waitFor(
        async () => (await b.page.evaluate(readSoFar)).sequences.some((s) => BigInt(s) > head),
        30_000,
        "an event published after the browser read again",
      );
      await waitFor(async () => ((await b.page.evaluate(readSoFar)).status?.dropped ?? 0) > 0, 10_000, "what it skipped counted as dropped");
    } finally {
      publishing = false;
      await publishes;
    }
  });
});
