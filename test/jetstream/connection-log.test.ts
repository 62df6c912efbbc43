/**
 * The jetstream store tells the server's log what happens to its NATS
 * connection: a nats-server started by the test is killed (the log says
 * the connection to it was lost) and started again (the log says it is
 * back), and publishing works again afterwards; a consumer group's state
 * written while NATS is down is logged as failed, and written once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@protobus/server";
import { natsServerAvailable, startNatsServer, type NatsServer } from "../support/nats.js";
import { startTestServer, waitFor, type TestServer } from "../support/test-server.js";

interface LogRecord {
  readonly level: string;
  readonly message: string;
  readonly server?: string;
}

describe.runIf(natsServerAvailable())("the jetstream store's NATS connection in the log", () => {
  let nats: NatsServer;
  let server: TestServer;
  const records: LogRecord[] = [];
  const serverOptions = () => ({
    store: "jetstream" as const,
    natsUrl: nats.url,
    jetstreamStream: "CONNECTION_LOG",
    logger: createLogger({ level: "info", format: "json", write: (line) => records.push(JSON.parse(line) as LogRecord) }),
  });

  beforeAll(async () => {
    nats = await startNatsServer();
    server = await startTestServer(serverOptions());
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await nats?.dispose();
  });

  it("says when the connection is lost and when it is back", async () => {
    await server.client.publish({ type: "log.before", data: { n: 1 } });
    const address = `127.0.0.1:${nats.port}`;
    const lost = (r: LogRecord) => r.level === "warn" && r.message.startsWith("lost the NATS connection to ");
    const back = (r: LogRecord) => r.level === "info" && r.message.startsWith("reconnected to NATS at ");
    expect(records.filter((r) => lost(r) || back(r))).toEqual([]);

    await nats.kill();
    await waitFor(() => records.some(lost), 10_000);
    expect(records.find(lost)).toMatchObject({
      message: `lost the NATS connection to ${address}; reconnecting (publishes wait, reads fail with UNAVAILABLE until it is back)`,
      server: address,
    });
    expect(records.some(back)).toBe(false);

    await nats.restart();
    await waitFor(() => records.some(back), 20_000);
    expect(records.find(back)).toMatchObject({ message: `reconnected to NATS at ${address}`, server: address });
    const result = await server.client.publish({ type: "log.after", data: { n: 2 } });
    expect(result.sequence).toBeGreaterThan(1n);
  });

  it("says why a consumer group's state could not be written, and writes it once NATS is back", async () => {
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let handling = false;
    const handled: string[] = [];
    const member = server.client.subscribe(
      "state.>",
      async (event) => {
        handling = true;
        await held;
        handled.push(event.id);
      },
      { group: "logged-state", from: "earliest" },
    );
    await member.opened();
    await server.client.publish({ id: "state-1", type: "state.written", data: { n: 1 } });
    await waitFor(() => handling, 10_000, "the delivery");

    // The handler returns while NATS is down: the ack's state write fails and is retried.
    await nats.kill();
    release();
    const failed = (r: LogRecord) => r.level === "warn" && r.message.startsWith("the jetstream store could not write a consumer group's state: consumer group 'logged-state': ");
    await waitFor(() => records.some(failed), 30_000, "the failed write in the log");
    expect(records.find(failed)?.message).toMatch(/; retried until it is written \(confirmed acks wait for it\)$/);

    await nats.restart();
    member.close();
    // What a server that takes the group over reads is what was written once NATS was back.
    await server.close();
    server = await startTestServer(serverOptions());
    const group = await server.client.getGroup("logged-state");
    expect({ acked: group.acked, backlog: group.backlog, inFlight: group.inFlight }).toEqual({ acked: 1n, backlog: 0n, inFlight: 0n });
    expect(handled).toEqual(["state-1"]);
  });
});
