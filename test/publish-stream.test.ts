/**
 * PublishStream answers every request, in order, with what Publish would
 * answer; QueryEvents pages through the result. Requests written at once
 * are stored in the order written, also while payload validation waits
 * for the schema index, and a bad one stops the ones after it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError, createRegistryClient, toEnvelope } from "@protobus/sdk";
import { PublishRequest, type PublishResponse } from "@protobus/sdk/proto";
import { startTestServer, type TestServer } from "./support/test-server.js";

describe("PublishStream and paged history", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("answers 200 requests of 25 events in order with consecutive sequences", async () => {
    const call = t.client.raw.publishStream();
    const responses: PublishResponse[] = [];
    call.on("data", (r: PublishResponse) => responses.push(r));
    const done = new Promise<void>((resolve, reject) => {
      call.on("end", resolve);
      call.on("error", reject);
    });
    for (let i = 0; i < 200; i++) {
      const events = Array.from({ length: 25 }, (_, j) => toEnvelope({ type: "stream.load.item", data: { i, j } }, { source: "s" }));
      call.write(PublishRequest.fromPartial({ events }));
    }
    call.end();
    await done;
    expect(responses).toHaveLength(200);
    const sequences = responses.flatMap((r) => r.results.map((x) => x.sequence));
    expect(sequences).toHaveLength(5000);
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBe((sequences[i - 1] as bigint) + 1n);

    // Page through them: 5000 events, 1000 per page, no overlap, no gap.
    const seen: bigint[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await t.client.query({ patterns: ["stream.load.*"], limit: 1000, pageToken });
      seen.push(...page.events.map((e) => e.sequence));
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== "");
    expect(pages).toBe(5);
    expect(seen).toEqual(sequences);
  });

  it("stores requests written at once in order while validation waits for the schema index, and stops at a bad payload", async () => {
    // Registering invalidates the server's schema index: the first publish after it waits for the index to load.
    const registry = createRegistryClient({ address: t.address });
    const schema = { type: "object", required: ["n"], properties: { n: { type: "integer" } } };
    await registry.register("stream.order.checked", { jsonSchema: schema }).finally(() => registry.close());
    const call = t.client.raw.publishStream();
    const responses: bigint[] = [];
    call.on("data", (r: PublishResponse) => responses.push(...r.results.map((x) => x.sequence)));
    const ended = new Promise<unknown>((resolve) => call.on("error", resolve));
    // Checked and unchecked types alternate; request 30 breaks the schema.
    for (let n = 0; n < 40; n++) {
      const type = n % 2 === 0 ? "stream.order.checked" : "stream.order.free";
      const data = n === 30 ? { n: "thirty" } : { n };
      call.write(PublishRequest.fromPartial({ events: [toEnvelope({ type, data }, { source: "s" })] }));
    }
    call.end();
    const failure = ProtobusError.from(await ended);
    expect(failure.code).toBe(Code.INVALID_ARGUMENT);
    expect(responses).toHaveLength(30);
    for (let i = 1; i < responses.length; i++) expect(responses[i]).toBe((responses[i - 1] as bigint) + 1n);
    const stored = await t.client.query({ patterns: ["stream.order.*"], limit: 100 });
    expect(stored.events.map((e) => e.sequence)).toEqual(responses);
    expect(stored.events.map((e) => (JSON.parse(Buffer.from(e.data).toString()) as { n: number }).n)).toEqual(Array.from({ length: 30 }, (_, n) => n));
  });

  it("deduplicates a repeated id and answers with the original sequence", async () => {
    const first = await t.client.publish({ type: "stream.dedupe.sent", id: "same-id" });
    const second = await t.client.publish({ type: "stream.dedupe.sent", id: "same-id" });
    expect(second).toEqual({ id: "same-id", sequence: first.sequence, duplicate: true });
    const page = await t.client.query({ patterns: ["stream.dedupe.sent"] });
    expect(page.events).toHaveLength(1);
  });
});
