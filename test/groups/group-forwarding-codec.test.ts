/**
 * The forwarding messages carry the engine's values unchanged: stats,
 * deliveries, dead letters, settings and selections survive an encode and
 * decode of protobus.cluster.v1 messages, and a failure reply comes back as
 * the ProtobusError it was, code and message.
 */
import { describe, expect, it } from "vitest";
import { Code, ProtobusError } from "@protobus/sdk";
import { ForwardReply } from "@protobus/sdk/internal";
import {
  deadLetterFromWire,
  deadLetterToWire,
  deliveryFromWire,
  deliveryToWire,
  failureReply,
  replyResult,
  selectionFromWire,
  selectionToWire,
  statsFromWire,
  statsToWire,
} from "../../server/src/storage/groups/group-forwarding-codec.js";
import { StoredEvent } from "../../server/src/storage/stored-event.js";
import type { GroupStats } from "../../server/src/storage/group-store.js";

const roundTrip = (reply: ForwardReply): ForwardReply => ForwardReply.decode(ForwardReply.encode(reply).finish());

describe("group forwarding codec", () => {
  const stored = new StoredEvent(42n, "agent.task.created", new Uint8Array([1, 2, 3, 250]), 1_900_000_000_000);

  it("carries deliveries and dead letters with their events' bytes", () => {
    const reply = roundTrip({ result: { $case: "deliveries", deliveries: { deliveries: [deliveryToWire({ stored, deliveryId: "42.3", attempt: 3 })] } } });
    const result = replyResult(reply);
    if (result.$case !== "deliveries") throw new Error(result.$case);
    const [delivery] = result.deliveries.deliveries.map(deliveryFromWire);
    expect(delivery?.deliveryId).toBe("42.3");
    expect(delivery?.attempt).toBe(3);
    expect(delivery?.stored.sequence).toBe(42n);
    expect(delivery?.stored.type).toBe("agent.task.created");
    expect([...(delivery?.stored.bytes ?? [])]).toEqual([1, 2, 3, 250]);
    expect(delivery?.stored.expireAtMs).toBe(1_900_000_000_000);

    const dead = { stored, attempts: 5, reason: "ack deadline passed", deadAt: new Date(1_800_000_000_123) };
    const back = deadLetterFromWire(deadLetterToWire(dead));
    expect({ ...back, stored: back.stored.sequence }).toEqual({ ...dead, stored: 42n });
  });

  it("carries stats and settings", () => {
    const stats: GroupStats = {
      definition: {
        name: "workers",
        patterns: ["agent.>"],
        filter: 'subject == "a"',
        settings: { ackDeadlineMs: 30_000, maxDeliveries: 5, backoffMinMs: 1_000, backoffMaxMs: 60_000 },
        createdAt: new Date(1_700_000_000_000),
      },
      members: 2,
      backlog: 10,
      inFlight: 3,
      deadLetters: 1,
      delivered: 100,
      redelivered: 4,
      acked: 90,
      nacked: 5,
      deadLettered: 1,
      expired: 2,
    };
    const result = replyResult(roundTrip({ result: { $case: "stats", stats: statsToWire(stats) } }));
    if (result.$case !== "stats") throw new Error(result.$case);
    expect(statsFromWire(result.stats)).toEqual(stats);
  });

  it("carries selections", () => {
    expect(selectionFromWire(selectionToWire({ all: true }))).toEqual({ all: true });
    expect(selectionFromWire(selectionToWire({ sequences: [3n, 9n] }))).toEqual({ sequences: [3n, 9n] });
  });

  it("turns a failure back into the ProtobusError it was", () => {
    const reply = roundTrip(failureReply(new ProtobusError(Code.NOT_FOUND, "consumer group 'x' was deleted")));
    let thrown: unknown;
    try {
      replyResult(reply);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProtobusError);
    expect((thrown as ProtobusError).code).toBe(Code.NOT_FOUND);
    expect((thrown as ProtobusError).rawMessage).toBe("consumer group 'x' was deleted");
  });
});
