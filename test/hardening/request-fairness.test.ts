/**
 * Large requests of different connections take turns
 * (server/src/transport/request-lane.ts): a connection that sends many
 * large publishes at once does not get all of them stored before another
 * connection's large publish, which arrived while they waited. The order
 * is read from the sequences the server assigned (its commit order), not
 * from when the answers reached the clients, which share this process's
 * event loop with the server.
 */
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event, PublishRequest, PublishResponse } from "@protobus/sdk/proto";
import { LARGE_REQUEST_BYTES, requestLane } from "../../server/dist/transport/request-lane.js";
import { rawBusClient } from "../support/raw-stream.js";
import { startTestServer, waitFor, type TestServer } from "../support/test-server.js";

/** Publishes the encoded request; resolves to the sequence of its first event. */
function publish(client: grpc.Client, body: Buffer): Promise<bigint> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/protobus.v1.EventBus/Publish",
      (b: Buffer) => b,
      (b: Buffer) => PublishResponse.decode(b),
      body,
      (error, response) => (error || response === undefined ? reject(error ?? new Error("no response")) : resolve(response.results[0]?.sequence ?? 0n)),
    );
  });
}

/** A publish of `count` events with 1,000-byte payloads. */
function largePublish(type: string, count: number): Buffer {
  const events = Array.from({ length: count }, (_, i) => Event.fromPartial({ type, source: "fairness", subject: `e-${i}`, data: Buffer.alloc(1_000, 97) }));
  return Buffer.from(PublishRequest.encode({ events }).finish());
}

describe("large requests of different connections", () => {
  let server: TestServer;
  let flooder: grpc.Client;
  let other: grpc.Client;
  beforeAll(async () => {
    // In process, so that the test sees the lane the server uses. The flood
    // (16 × 2 MB from one connection) fits the waiting budget's share of a
    // connection: it is turns this test is about, not refusals.
    server = await startTestServer({ maxWaitingRequestBytes: 256 * 2 ** 20 });
    flooder = rawBusClient(server.address);
    other = rawBusClient(server.address);
  });
  afterAll(async () => {
    flooder.close();
    other.close();
    await server.close();
  });

  it("take turns: another connection's publish is stored before most of a queued flood", async () => {
    const FLOOD = 16;
    const flood = largePublish("fair.flood", 2_000);
    // Just over the threshold, so that it arrives within a couple of turns
    // (the server's HTTP/2 window is 64 KiB) while the flood waits.
    const mine = largePublish("fair.other", 70);
    expect(mine.length).toBeGreaterThan(LARGE_REQUEST_BYTES);
    // Connected before the flood starts.
    await publish(other, largePublish("fair.warm", 1));
    const floodDone = Array.from({ length: FLOOD }, () => publish(flooder, flood));
    // Most of the flood waits in the lane (its byte limit lets a few start at once).
    await waitFor(() => requestLane.waiting >= FLOOD / 2, 20_000, "the flood to queue");
    const waitingBefore = requestLane.waiting;
    const mineAt = await publish(other, mine);
    const floodAt = await Promise.all(floodDone);

    const storedBefore = floodAt.filter((sequence) => sequence < mineAt).length;
    // In arrival order it would be stored after every flood request queued
    // before it (all 16). Taking turns, it comes after those already started
    // when it was sent, the few that start while it arrives (a turn or two;
    // more on a busy machine) and the flood's next one.
    expect(storedBefore, `stored after ${storedBefore} of ${FLOOD} flood requests (${waitingBefore} waiting when it was sent)`).toBeLessThanOrEqual(FLOOD - waitingBefore + 4);
    // Every event of every request was stored.
    expect((await server.client.info()).headSequence).toBe(BigInt(1 + FLOOD * 2_000 + 70));
  });
});
