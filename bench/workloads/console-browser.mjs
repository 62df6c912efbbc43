// Publish throughput while a browser has the console's live view open on a
// deliberately slow connection (it reads one chunk of the event stream every
// `readEveryMs`), or with no browser at all (`browser: false`): the stream
// publisher is the measure, the browser only a load on the server.
import { request } from "node:http";
import { createClient } from "@protobus/sdk";
import { startStreamPublisher } from "./stream-publisher.mjs";

/** Opens the live view's stream like the page does, and reads it slowly. */
function openSlowBrowser(consoleUrl, readEveryMs) {
  let bytes = 0;
  let statusLine = "";
  let timer;
  const req = request(new URL("api/protobus.v1.EventBus/Subscribe", consoleUrl), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
  });
  const opened = new Promise((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`the console answered HTTP ${res.statusCode}`));
        return;
      }
      res.on("data", (chunk) => {
        bytes += chunk.length;
        const text = chunk.toString("utf8");
        const at = text.lastIndexOf("event: status\ndata: ");
        if (at >= 0) statusLine = text.slice(at + 20).split("\n")[0];
        // One chunk, then nothing until the next tick: a slow link.
        res.pause();
        timer = setTimeout(() => res.resume(), readEveryMs);
      });
      resolve();
    });
  });
  req.end(JSON.stringify({ open: { patterns: [">"] } }));
  return {
    opened,
    summary: () => ({ bytesRead: bytes, lastStatus: statusLine }),
    close() {
      clearTimeout(timer);
      req.destroy();
    },
  };
}

export async function start({ address, consoleUrl, browser, batch, inflight, readEveryMs = 500 }) {
  if (browser && consoleUrl === undefined) throw new Error("the server has no console: give it consolePort");
  const slow = browser ? openSlowBrowser(consoleUrl, readEveryMs) : undefined;
  await slow?.opened;
  const sdk = createClient({ address, source: "bench/loadgen" });
  const publisher = startStreamPublisher({ client: sdk.raw, batch, inflight });
  return {
    count: () => publisher.acked,
    summary: () => slow?.summary() ?? {},
    async stop() {
      await publisher.stop();
      slow?.close();
      sdk.close();
    },
  };
}
