// Publishes whose events carry many long index keys (64 tags of 256
// characters and a correlation id of 1,024, the most a client may send by
// default), while a probe in a process of its own (index-keys-probe.mjs)
// calls GetBusInfo every 20 ms and times each answer. `keys: "random"`:
// every key is new and random, as a hostile client sends them, so each
// goes into a random place of the store's indexes; `keys: "ordered"`: the
// same bytes, but the tags repeat and the correlation ids grow in order,
// as an application's do.
// The probe's latency is what another client waits while the server's
// thread writes them (see scenarios/index-keys.mjs).
import { randomBytes } from "node:crypto";
import { Event, PublishRequest } from "@protobus/sdk/proto";
import { ownConnections, publishEncoded } from "../lib/encoded-publish.mjs";
import { startRole } from "../lib/procs.mjs";

const TAGS = 64;
const TAG_CHARS = 256;
const CORRELATION_CHARS = 1024;

const hex = (chars) => randomBytes(chars / 2).toString("hex");

/** One encoded publish of `batch` events with keys of the given kind; `n` counts the events built so far. */
function buildRequest(keys, batch, n, fixedTags) {
  const data = Buffer.alloc(100, 97);
  const ordered = keys === "ordered";
  const events = Array.from({ length: batch }, (_, i) => {
    const tags = ordered ? fixedTags : Array.from({ length: TAGS }, () => hex(TAG_CHARS));
    const correlationId = ordered ? String(n + i).padStart(16, "0").padEnd(CORRELATION_CHARS, "x") : hex(CORRELATION_CHARS);
    return Event.fromPartial({ type: "bench.index_keys.created", source: "bench/index-keys", correlationId, tags, data });
  });
  return Buffer.from(PublishRequest.encode({ events }).finish());
}

export async function start({ address, keys, connections, batch }) {
  const fixedTags = Array.from({ length: TAGS }, (_, i) => `tag-${i}-`.padEnd(TAG_CHARS, "t"));
  const clients = ownConnections(address, connections);
  const probe = await startRole("loadgen", {}, "index-keys-probe");
  await probe.call("start", { workload: "index-keys-probe", options: { address } });
  let stored = 0;
  let built = 0;
  let failures = 0;
  let running = true;
  const publishers = clients.map(async (client) => {
    while (running) {
      const body = buildRequest(keys, batch, built, fixedTags);
      built += batch;
      const error = await publishEncoded(client, body);
      if (error === undefined) stored += batch;
      else failures += 1;
    }
  });
  return {
    count: () => stored,
    summary: () => ({ pids: [probe.pid] }),
    mark: () => probe.call("mark"),
    async latencies() {
      return { ...(await probe.call("latencies")), stored, failedPublishes: failures };
    },
    async stop() {
      running = false;
      await Promise.all(publishers);
      for (const client of clients) client.close();
      await probe.call("stop").catch(() => undefined);
      await probe.stop();
    },
  };
}
