/**
 * Issue 14, row 4: ~1,000 consumer groups opened from `earliest` over 200k
 * stored events each kept ~6 MB of read-ahead (capped by count, kept after
 * the member left): heap out of memory after 997 groups, and after a
 * restart `ListGroups` blocked the server 14-17 s. Now a group's read-ahead
 * is bounded in bytes (`--group-read-ahead-bytes`) and held only while the
 * group has members; stored groups are listed from the store without being
 * loaded; `--max-groups` bounds the groups loaded at once. Scaled down:
 * 300 groups over 50,000 events of ~600 bytes (the count-based read-ahead
 * of 10,000 events would keep ~6 MB per group, ~1.8 GB for all of them).
 */
import { afterEach, describe, expect, it } from "vitest";
import { Code, createClient, type ProtobusClient } from "@protobus/sdk";
import { freePort } from "../support/free-port.js";
import { mib, rssBytes } from "../support/process-memory.js";
import { openHeldStream, type HeldStream } from "../support/raw-stream.js";
import { spawnServer, tempDir, waitFor, type ServerProcess } from "../support/test-server.js";
import { expectLimitError, expectNoStall, STALL_RETRY, type HardeningServer } from "../hardening/support.js";

const EVENTS = 50_000;
const GROUPS = 300;
/** Groups opened at once while the test walks through them. */
const CONCURRENT = 10;

/** A held-bytes gauge of the server's `/metrics`. */
async function heldBytes(metricsPort: number, use: "read_ahead" | "unacked"): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const match = new RegExp(`^protobus_memory_held_bytes\\{use="${use}"\\} (\\S+)$`, "m").exec(text);
  if (match === null) throw new Error(`no protobus_memory_held_bytes{use="${use}"} on /metrics`);
  return Number(match[1]);
}

/** `protobus serve` over `dataDir` with a metrics endpoint, as the stall helper wants it. */
async function serve(dataDir: string, flags: readonly string[] = [], port?: number): Promise<HardeningServer> {
  const metricsPort = await freePort();
  const server = await spawnServer(["--store", "sqlite", "--data-dir", dataDir, "--metrics-port", String(metricsPort), ...flags], {}, port);
  return {
    ...server,
    metricsPort,
    dataDir,
    close: async () => {
      await server.stop("SIGKILL");
    },
  };
}

/** Publishes `count` events of ~600 bytes in large batches. */
async function publishHistory(client: ProtobusClient, count: number): Promise<void> {
  const padding = "r".repeat(560);
  const batch = 5_000;
  for (let sent = 0; sent < count; sent += batch) {
    await client.publish(Array.from({ length: batch }, (_, i) => ({ type: "hist.item.added", data: { n: sent + i, padding } })));
  }
}

/** Joins a group from `earliest`, waits for its first delivery (its read-ahead is loaded), and leaves. */
async function joinAndLeave(address: string, group: string): Promise<void> {
  const stream = openHeldStream(address, { patterns: ["hist.>"], group, start: { position: { $case: "earliest", earliest: {} } }, maxInFlight: 10 });
  try {
    await stream.opened;
    await waitFor(() => stream.received.length > 0, 30_000, `a delivery to group ${group}`);
  } finally {
    stream.close();
  }
}

describe("consumer group read-ahead", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("holds a bounded read-ahead per group, releases it when the last member leaves, and lists stored groups without a stall", { timeout: 180_000, ...STALL_RETRY }, async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    let server = await serve(dir.path);
    cleanups.push(() => server.close());
    const client = createClient({ address: server.address, source: "read-ahead" });
    cleanups.push(() => client.close());
    await publishHistory(client, EVENTS);

    const pid = server.process.pid as number;
    const before = rssBytes(pid);
    let peak = before;
    let peakReadAhead = 0;
    for (let next = 0; next < GROUPS; next += CONCURRENT) {
      const names = Array.from({ length: Math.min(CONCURRENT, GROUPS - next) }, (_, i) => `reader-${next + i}`);
      await Promise.all(names.map((name) => joinAndLeave(server.address, name)));
      peak = Math.max(peak, rssBytes(pid));
      peakReadAhead = Math.max(peakReadAhead, await heldBytes(server.metricsPort, "read_ahead"));
    }
    // Every member left: every group's read-ahead went back.
    await waitFor(async () => (await heldBytes(server.metricsPort, "read_ahead")) === 0, 20_000, "the read-ahead of groups without members to be released");
    const after = rssBytes(pid);
    const report = `RSS ${mib(before)} before the groups, peak ${mib(peak)}, ${mib(after)} after; read-ahead held at most ${mib(peakReadAhead)}`;
    console.log(`group read-ahead: ${GROUPS} groups over ${EVENTS} events: ${report}`);
    // At most CONCURRENT groups were loaded at a time, each under the 2 MiB default (plus one event).
    expect(peakReadAhead, report).toBeLessThanOrEqual(CONCURRENT * (2 * 2 ** 20 + 4096));
    // The count-based read-ahead kept ~6 MB per group, ~1.8 GB for 300; a generous bound far below that.
    expect(after - before, report).toBeLessThan(400 * 2 ** 20);
    expect(peak - before, report).toBeLessThan(500 * 2 ** 20);

    // After a restart the stored groups are listed from the store, while other calls are answered.
    const port = Number(server.address.split(":")[1]);
    await server.stop("SIGTERM");
    server = await serve(dir.path, [], port);
    const restarted = createClient({ address: server.address, source: "read-ahead" });
    cleanups.push(() => restarted.close());
    const groups = await expectNoStall(server, () => restarted.listGroups());
    expect(groups.length).toBe(GROUPS);
    // Each group was delivered one event (unacked): the rest is its backlog.
    for (const group of groups) expect(Number(group.backlog)).toBe(EVENTS);
    expect(await heldBytes(server.metricsPort, "read_ahead")).toBe(0);
  });

  it("refuses a group over --max-groups with RESOURCE_EXHAUSTED naming the limit, and takes it once one is released", { timeout: 60_000 }, async () => {
    const dir = tempDir();
    cleanups.push(() => dir.dispose());
    const server: ServerProcess = await serve(dir.path, ["--max-groups", "2"]);
    cleanups.push(() => server.stop("SIGKILL"));
    const client = createClient({ address: server.address, source: "max-groups" });
    cleanups.push(() => client.close());
    await publishHistory(client, 10);
    const open = (group: string): HeldStream => {
      const stream = openHeldStream(server.address, { patterns: ["hist.>"], group, start: { position: { $case: "earliest", earliest: {} } } });
      cleanups.push(() => stream.close());
      return stream;
    };
    const first = open("first");
    await first.opened;
    await open("second").opened;
    const third = open("third");
    const error = await third.opened.then(
      () => undefined,
      (e: unknown) => e,
    );
    const failure = expectLimitError(error, Code.RESOURCE_EXHAUSTED, "max-groups");
    expect(failure.message).toContain("2 consumer groups are in use");
    // A stored group without members does not count: once `first` is left, `third` opens.
    first.close();
    await waitFor(
      async () => {
        const retry = open("third");
        return retry.opened.then(
          () => true,
          () => false,
        );
      },
      20_000,
      "the third group to open once the first has no members",
    );
    expect((await client.listGroups()).map((g) => g.name).sort()).toEqual(["first", "second", "third"]);
  });
});
