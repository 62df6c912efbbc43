/**
 * The jetstream store tells the server's log what happens to its NATS
 * connection: a nats-server started by the test is killed (the log says
 * the connection to it was lost) and started again (the log says it is
 * back), and publishing works again afterwards.
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

  beforeAll(async () => {
    nats = await startNatsServer();
    server = await startTestServer({
      store: "jetstream",
      natsUrl: nats.url,
      jetstreamStream: "CONNECTION_LOG",
      logger: createLogger({ level: "info", format: "json", write: (line) => records.push(JSON.parse(line) as LogRecord) }),
    });
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
});
