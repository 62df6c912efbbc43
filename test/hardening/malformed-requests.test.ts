/**
 * Issue row 15: numeric overflows and malformed requests get
 * INVALID_ARGUMENT naming the field, never INTERNAL: sequences and page
 * tokens at or past 2^63, timestamps of 1e14 seconds, 40,000 query
 * patterns, request bytes that are no protobuf message at all (unary and
 * streaming calls).
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient, type ProtobusClient } from "@protobus/sdk";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Event, PublishRequest, PublishResponse, QueryEventsRequest, Timestamp } from "@protobus/sdk/proto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createToken, startServer } from "@protobus/server";
import { LARGE_REQUEST_BYTES, requestLane } from "../../server/dist/transport/request-lane.js";
import { tempDir } from "../support/test-server.js";
import { expectInvalid, expectLimitError, metricValue, rejection, startHardeningServer, type HardeningServer } from "./support.js";

const BEYOND = 2n ** 63n;
const GARBAGE = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0xff, 0xff]);

function rawUnary(client: grpc.Client, path: string, body: Buffer): Promise<grpc.ServiceError | undefined> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (error) => resolve(error ?? undefined),
    );
  });
}

/** Writes `messages` on a stream; resolves to the status it failed with (if any) and the responses received before. */
function rawStream(client: grpc.Client, path: string, messages: readonly Buffer[]): Promise<{ error?: grpc.ServiceError; answers: number }> {
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(path, (b: Buffer) => b, (b: Buffer) => b);
    let answers = 0;
    call.on("data", () => (answers += 1));
    call.on("error", (error: grpc.ServiceError) => resolve({ error, answers }));
    call.on("end", () => resolve({ answers }));
    for (const message of messages) call.write(message);
  });
}

describe("malformed requests and numeric overflow", () => {
  let server: HardeningServer;
  let client: ProtobusClient;
  let raw: grpc.Client;
  beforeAll(async () => {
    server = await startHardeningServer();
    client = createClient({ address: server.address, source: "hardening" });
    raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
    await client.publish({ type: "hard.num.seed" });
  });
  afterAll(async () => {
    raw.close();
    await client.close();
    await server.close();
  });

  it("answers request bytes that do not decode with INVALID_ARGUMENT, unary and streamed", async () => {
    for (const path of ["/protobus.v1.EventBus/Publish", "/protobus.v1.EventBus/QueryEvents", "/protobus.v1.SchemaRegistry/RegisterSchema", "/protobus.v1.EventBus/GetEvent"]) {
      const error = await rawUnary(raw, path, GARBAGE);
      expect(error?.code, `${path}: ${error?.message}`).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error?.details).toContain("is not a valid");
    }
    const good = Buffer.from(PublishRequest.encode({ events: [Event.fromPartial({ type: "hard.num.streamed", source: "raw" })] }).finish());
    const streamed = await rawStream(raw, "/protobus.v1.EventBus/PublishStream", [good, GARBAGE, good]);
    expect(streamed.error?.code, streamed.error?.message).toBe(grpc.status.INVALID_ARGUMENT);
    // The batch before the bad one was answered before the stream ended.
    expect(streamed.answers).toBe(1);
    const subscribed = await rawStream(raw, "/protobus.v1.EventBus/Subscribe", [GARBAGE]);
    expect(subscribed.error?.code, subscribed.error?.message).toBe(grpc.status.INVALID_ARGUMENT);
    // The server is unharmed and the good message before the bad one was stored.
    const page = await client.query({ patterns: ["hard.num.streamed"] });
    expect(page.events.length).toBe(1);
  });

  it("answers undecodable bytes INVALID_ARGUMENT behind authentication and authorization too", async () => {
    const dir = tempDir("protobus-hardening-auth-");
    const tokenFile = join(dir.path, "tokens.yaml");
    const policy = join(dir.path, "policy.yaml");
    writeFileSync(policy, "grants:\n  - principals: [owner]\n    publish: [agent.>]\n    subscribe: [agent.>]\n");
    const { token } = createToken(tokenFile, { principal: "owner" });
    const secured = await startServer({ host: "127.0.0.1", port: 0, store: "memory", logLevel: "silent", tokenFile, policy, shutdownGraceMs: 1000 });
    const client = new grpc.Client(secured.address, grpc.credentials.createInsecure());
    try {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${token}`);
      for (const path of ["/protobus.v1.EventBus/Publish", "/protobus.v1.EventBus/QueryEvents", "/protobus.v1.SchemaRegistry/RegisterSchema"]) {
        const error = await new Promise<grpc.ServiceError | undefined>((resolve) =>
          client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, GARBAGE, metadata, {}, (e) => resolve(e ?? undefined)),
        );
        expect(error?.code, `${path}: ${error?.message}`).toBe(grpc.status.INVALID_ARGUMENT);
      }
      // A large request reaches authorization decoded, in its turn.
      const large = (type: string) =>
        Buffer.from(PublishRequest.encode({ events: Array.from({ length: 1_000 }, () => Event.fromPartial({ type, source: "raw", data: Buffer.alloc(100) })) }).finish());
      const send = (body: Buffer) =>
        new Promise<grpc.ServiceError | undefined>((resolve) =>
          client.makeUnaryRequest("/protobus.v1.EventBus/Publish", (b: Buffer) => b, (b: Buffer) => b, body, metadata, {}, (e) => resolve(e ?? undefined)),
        );
      expect(large("agent.turn.done").length).toBeGreaterThanOrEqual(LARGE_REQUEST_BYTES);
      const denied = await send(large("other.turn.done"));
      expect(denied?.code, denied?.message).toBe(grpc.status.PERMISSION_DENIED);
      expect(await send(large("agent.turn.done"))).toBeUndefined();
      expect(requestLane.held).toBe(0);
      // Without credentials the call is refused before anything is read.
      const anonymous = await rawUnary(client, "/protobus.v1.EventBus/Publish", GARBAGE);
      expect(anonymous?.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      client.close();
      await secured.shutdown();
      dir.dispose();
    }
  });

  it("decodes large requests in their turn: undecodable ones are INVALID_ARGUMENT, a stream of large and small batches keeps its order", async () => {
    // Over LARGE_REQUEST_BYTES, the bytes are decoded later, by the interceptor chain.
    const garbage = Buffer.concat([GARBAGE, Buffer.alloc(LARGE_REQUEST_BYTES)]);
    const unary = await rawUnary(raw, "/protobus.v1.EventBus/Publish", garbage);
    expect(unary?.code, unary?.message).toBe(grpc.status.INVALID_ARGUMENT);
    expect(unary?.details).toContain("is not a valid");
    const batch = (tag: string, count: number) =>
      Buffer.from(PublishRequest.encode({ events: Array.from({ length: count }, (_, i) => Event.fromPartial({ type: "hard.turns.stored", source: "raw", subject: `${tag}-${i}`, data: Buffer.alloc(100) })) }).finish());
    const large = batch("large", 1_000);
    expect(large.length).toBeGreaterThanOrEqual(LARGE_REQUEST_BYTES);
    const messages = [large, batch("small-a", 2), batch("large-b", 1_000), batch("small-b", 1), large];
    const answers: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = raw.makeBidiStreamRequest("/protobus.v1.EventBus/PublishStream", (b: Buffer) => b, (b: Buffer) => b);
      call.on("data", (bytes: Buffer) => answers.push(PublishResponse.decode(bytes).results.length));
      call.on("error", reject);
      call.on("end", () => resolve());
      for (const message of messages) call.write(message);
      call.end();
    });
    expect(answers).toEqual([1_000, 2, 1_000, 1, 1_000]);
    const storedSubjects = async (): Promise<string[]> => {
      const out: string[] = [];
      let pageToken = "";
      do {
        const page = await client.query({ patterns: ["hard.turns.stored"], limit: 1_000, pageToken });
        out.push(...page.events.map((e) => e.subject));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return out;
    };
    const subjects = await storedSubjects();
    expect(subjects).toHaveLength(3_003);
    expect(subjects.slice(999, 1_003)).toEqual(["large-999", "small-a-0", "small-a-1", "large-b-0"]);
    expect(subjects.slice(2_001, 2_004)).toEqual(["large-b-999", "small-b-0", "large-0"]);
    const garbageStream = await rawStream(raw, "/protobus.v1.EventBus/PublishStream", [batch("small-c", 1), garbage, batch("small-d", 1)]);
    expect(garbageStream.error?.code, garbageStream.error?.message).toBe(grpc.status.INVALID_ARGUMENT);
    expect(garbageStream.answers).toBe(1);
    expect((await storedSubjects()).slice(3_003)).toEqual(["small-c-0"]);
    // A bad batch right behind a large one, still being stored: the large one is answered first.
    const behindLarge = await rawStream(raw, "/protobus.v1.EventBus/PublishStream", [batch("large-c", 1_000), GARBAGE]);
    expect(behindLarge.error?.code, behindLarge.error?.message).toBe(grpc.status.INVALID_ARGUMENT);
    expect(behindLarge.answers).toBe(1);
    expect(await storedSubjects()).toHaveLength(4_004);
    // Every large request was answered: none holds the lane's bytes, none waits.
    expect(await metricValue(server.metricsPort, "protobus_large_request_bytes_in_progress")).toBe(0);
    expect(await metricValue(server.metricsPort, "protobus_large_requests_waiting")).toBe(0);
    expect(await metricValue(server.metricsPort, "protobus_large_request_bytes_waiting")).toBe(0);
  });

  it("refuses sequences and page tokens at or past 2^63", async () => {
    expectInvalid(await rejection(client.query({ fromSequence: BEYOND })), "from_sequence", "2^63");
    const token = Buffer.from(`pb1.${BEYOND}`).toString("base64url");
    expectInvalid(await rejection(client.query({ pageToken: token })), "page_token");
    const subscription = client.subscribe("hard.num.>", { from: { sequence: BEYOND }, reconnect: false });
    expectInvalid(await rejection(subscription.opened()), "open.start.sequence", "2^63");
    subscription.close();
    // The largest representable sequence is fine: nothing after it.
    expect((await client.query({ fromSequence: BEYOND - 1n })).events).toEqual([]);
  });

  it("refuses timestamps of 1e14 seconds, which no store can represent", async () => {
    // A Date cannot hold them, so the messages are written field by field.
    const far = Timestamp.encode({ seconds: 100_000_000_000_000n, nanos: 0 }).finish();
    const withField = (message: Uint8Array, field: number, value: Uint8Array): Buffer =>
      Buffer.from(new BinaryWriter().raw(message).uint32((field << 3) | 2).bytes(value).finish());
    const event = (field: number) => withField(Event.encode(Event.fromPartial({ type: "hard.num.time", source: "raw" })).finish(), field, far);
    const publish = (bytes: Buffer) => Buffer.from(new BinaryWriter().uint32((1 << 3) | 2).bytes(bytes).finish());
    for (const [field, name] of [
      [5, "events[0].time"],
      [14, "events[0].expire_time"],
    ] as const) {
      const error = await rawUnary(raw, "/protobus.v1.EventBus/Publish", publish(event(field)));
      expect(error?.code, error?.message).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error?.details).toContain(name);
    }
    const query = await rawUnary(raw, "/protobus.v1.EventBus/QueryEvents", withField(QueryEventsRequest.encode(QueryEventsRequest.fromPartial({})).finish(), 5, far));
    expect(query?.code, query?.message).toBe(grpc.status.INVALID_ARGUMENT);
    expect(query?.details).toContain("from_time");
  });

  it("refuses 40,000 query patterns naming --max-patterns", async () => {
    const patterns = Array.from({ length: 40_000 }, (_, i) => `hard.num.p${i}`);
    expectLimitError(await rejection(client.query({ patterns })), Code.INVALID_ARGUMENT, "max-patterns", "patterns");
    const within = await client.query({ patterns: patterns.slice(0, 9_999).concat("hard.num.seed") });
    expect(within.events.map((e) => e.type)).toEqual(["hard.num.seed"]);
  });
});
