/**
 * Bad input gets INVALID_ARGUMENT with a BadRequest naming each bad field,
 * and nothing already accepted is lost: events published before and after
 * each rejected request stay intact.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, type EventInput } from "@protobus/sdk";
import { PublishRequest } from "@protobus/sdk/proto";
import { toEnvelope } from "@protobus/sdk";
import { startTestServer, type TestServer } from "./support/test-server.js";

const MAX_PAYLOAD = 64 * 1024;

const CASES: ReadonlyArray<{ name: string; event: EventInput; field: string; reason: string }> = [
  { name: "missing source", event: { type: "bad.input.case", source: "" }, field: "events[0].source", reason: "REQUIRED" },
  { name: "missing type", event: { type: "" }, field: "events[0].type", reason: "REQUIRED" },
  { name: "upper-case type", event: { type: "Bad.Input" }, field: "events[0].type", reason: "PATTERN" },
  { name: "one-token type", event: { type: "single" }, field: "events[0].type", reason: "PATTERN" },
  { name: "type with a wildcard", event: { type: "bad.*.case" }, field: "events[0].type", reason: "PATTERN" },
  { name: "priority over 9", event: { type: "bad.input.case", priority: 10 }, field: "events[0].priority", reason: "OUT_OF_RANGE" },
  {
    name: "payload over the limit",
    event: { type: "bad.input.case", data: new Uint8Array(MAX_PAYLOAD + 1) },
    field: "events[0].data",
    reason: "TOO_LARGE",
  },
  { name: "empty tag", event: { type: "bad.input.case", tags: ["ok", ""] }, field: "events[0].tags[1]", reason: "REQUIRED" },
  { name: "id too long", event: { type: "bad.input.case", id: "x".repeat(300) }, field: "events[0].id", reason: "TOO_LONG" },
];

describe("bad input", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ maxPayloadBytes: MAX_PAYLOAD });
  });
  afterAll(() => t.close());

  it.each(CASES)("$name: INVALID_ARGUMENT naming $field; neighbours intact", async ({ event, field, reason }) => {
    const before = await t.client.publish({ type: "good.input.before" });
    const error = await t.client.publish(event).catch((e: unknown) => e);
    const after = await t.client.publish({ type: "good.input.after" });
    expect(error).toBeInstanceOf(ProtobusError);
    const failure = error as ProtobusError;
    expect(failure.code).toBe(Code.INVALID_ARGUMENT);
    expect(failure.fieldViolations).toEqual([expect.objectContaining({ field, reason })]);
    expect(failure.message).toContain(field);
    // Nothing was stored for the bad request: the sequences are adjacent.
    expect(after.sequence).toBe(before.sequence + 1n);
    expect((await t.client.getEvent(before.id)).type).toBe("good.input.before");
    expect((await t.client.getEvent(after.id)).type).toBe("good.input.after");
  });

  it("rejects a whole batch with one bad event, naming it by index, and stores none of it", async () => {
    const head = (await t.client.info()).headSequence;
    const error = (await t.client
      .publish([{ type: "good.batch.one" }, { type: "BAD" }, { type: "good.batch.three", priority: 42 }])
      .catch((e: unknown) => e)) as ProtobusError;
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.fieldViolations.map((v) => v.field)).toEqual(["events[1].type", "events[2].priority"]);
    expect((await t.client.info()).headSequence).toBe(head);
    const page = await t.client.query({ patterns: ["good.batch.>"] });
    expect(page.events).toEqual([]);
  });

  it("rejects an empty publish", async () => {
    const error = (await t.client.publish([]).catch((e: unknown) => e)) as ProtobusError;
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.fieldViolations[0]?.field).toBe("events");
  });

  it("ends a publish stream at the bad batch and keeps every batch answered before it", async () => {
    const call = t.client.raw.publishStream();
    const responses: bigint[][] = [];
    call.on("data", (r: { results: Array<{ sequence: bigint }> }) => responses.push(r.results.map((x) => x.sequence)));
    const ended = new Promise<unknown>((resolve) => call.on("error", resolve));
    const envelope = (type: string) => toEnvelope({ type }, { source: "stream" });
    call.write(PublishRequest.fromPartial({ events: [envelope("stream.batch.one"), envelope("stream.batch.two")] }));
    call.write(PublishRequest.fromPartial({ events: [envelope("stream.batch.three")] }));
    call.write(PublishRequest.fromPartial({ events: [envelope("stream.Batch.bad")] }));
    call.write(PublishRequest.fromPartial({ events: [envelope("stream.batch.never")] }));
    call.end();
    const failure = ProtobusError.from(await ended);
    expect(failure.code).toBe(Code.INVALID_ARGUMENT);
    expect(failure.fieldViolations[0]?.field).toBe("events[0].type");
    expect(responses).toHaveLength(2);
    expect(responses[0]).toHaveLength(2);
    const stored = await t.client.query({ patterns: ["stream.batch.>"] });
    expect(stored.events.map((e) => e.type)).toEqual(["stream.batch.one", "stream.batch.two", "stream.batch.three"]);
  });

  it("answers a subscribe that does not start with open", async () => {
    const call = t.client.raw.subscribe();
    const ended = new Promise<unknown>((resolve) => call.on("error", resolve));
    call.write({ request: { $case: "ack", ack: { deliveryIds: ["1.1"], confirm: false } } });
    const failure = ProtobusError.from(await ended);
    expect(failure.code).toBe(Code.INVALID_ARGUMENT);
    expect(failure.fieldViolations[0]?.description).toContain("first message must be 'open'");
  });

  it("rejects a query with a bad pattern, a bad page token and a too large limit together", async () => {
    const error = (await t.client
      .query({ patterns: ["ok.>", "no..good"], pageToken: "garbage", limit: 5000 })
      .catch((e: unknown) => e)) as ProtobusError;
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.fieldViolations.map((v) => v.field)).toEqual(["patterns[1]", "limit", "page_token"]);
  });
});
