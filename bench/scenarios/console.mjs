// Publish throughput with the web console's live view open on a slow
// browser connection, against the same server with no browser, in the same
// run: the console acks the bus at once and drops what the browser does not
// take, so the bus should not notice the browser.
import { protobus, ratioAtLeast } from "./sides.mjs";

function side(browser, label) {
  return protobus({
    store: "memory",
    config: { consolePort: "free" },
    workload: "console-browser",
    options: { browser, batch: 100, inflight: 4, readEveryMs: 500 },
    label,
  });
}

export const consoleSlowBrowser = {
  name: "console-slow-browser",
  title: "Publish with the console's live view open on a slow browser (one chunk read per 500 ms), memory store, stream publisher 100/msg",
  unit: "events/s",
  target: ratioAtLeast(0.9),
  subject: side(true, "live view on a slow browser"),
  baseline: side(false, "console on, no browser"),
};
