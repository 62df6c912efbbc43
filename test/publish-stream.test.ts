/**
 * PublishStream answers every request, in order, with what Publish would
 * answer; QueryEvents pages through the result.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toEnvelope } from "@protobus/sdk";
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

  it("deduplicates a repeated id and answers with the original sequence", async () => {
    const first = await t.client.publish({ type: "stream.dedupe.sent", id: "same-id" });
    const second = await t.client.publish({ type: "stream.dedupe.sent", id: "same-id" });
    expect(second).toEqual({ id: "same-id", sequence: first.sequence, duplicate: true });
    const page = await t.client.query({ patterns: ["stream.dedupe.sent"] });
    expect(page.events).toHaveLength(1);
  });
});
