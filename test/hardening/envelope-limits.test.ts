/**
 * Issue row 11: the envelope outside `data` is held to limits (attributes
 * count and bytes, tags count and length, id, type, source and other text
 * lengths), each refused with INVALID_ARGUMENT naming its flag in an
 * ErrorInfo, and nothing of the batch is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient, type EventInput, type ProtobusClient } from "@protobus/sdk";
import { expectLimitError, rejection, startHardeningServer, type HardeningServer } from "./support.js";

const MIB = 1024 * 1024;

describe("envelope limits", () => {
  let server: HardeningServer;
  let client: ProtobusClient;
  beforeAll(async () => {
    server = await startHardeningServer();
    client = createClient({ address: server.address, source: "hardening" });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  const many = (count: number, size = 1): Record<string, string> =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, "v".repeat(size)]));

  const cases: ReadonlyArray<{ name: string; event: EventInput; limit: string; field: string }> = [
    { name: "100,000 attributes", event: { type: "hard.env.attrs", attributes: many(100_000) }, limit: "max-attributes", field: "events[0].attributes" },
    { name: "a 3 MiB attribute value", event: { type: "hard.env.attrs", attributes: { big: "x".repeat(3 * MIB) } }, limit: "max-attributes-bytes", field: "events[0].attributes" },
    { name: "1,000 tags of 1,000 characters", event: { type: "hard.env.tags", tags: Array.from({ length: 1000 }, (_, i) => `${i}${"t".repeat(999)}`) }, limit: "max-tags", field: "events[0].tags" },
    { name: "one tag of 1,000 characters", event: { type: "hard.env.tags", tags: ["t".repeat(1000)] }, limit: "max-tag-length", field: "events[0].tags[0]" },
    { name: "a type of 300 characters", event: { type: `hard.${"t".repeat(300)}` }, limit: "max-type-length", field: "events[0].type" },
    { name: "a source of 2,000 characters", event: { type: "hard.env.source", source: "s".repeat(2000) }, limit: "max-source-length", field: "events[0].source" },
    { name: "an id of 300 characters", event: { type: "hard.env.id", id: "i".repeat(300) }, limit: "max-id-length", field: "events[0].id" },
    { name: "a subject of 2,000 characters", event: { type: "hard.env.subject", subject: "s".repeat(2000) }, limit: "max-field-length", field: "events[0].subject" },
    { name: "a correlation id of 2,000 characters", event: { type: "hard.env.correlation", correlationId: "c".repeat(2000) }, limit: "max-field-length", field: "events[0].correlation_id" },
  ];

  it.each(cases)("refuses $name naming --$limit; nothing is stored", async ({ event, limit, field }) => {
    const before = await client.publish({ type: "hard.env.before" });
    const error = await rejection(client.publish([{ type: "hard.env.neighbour" }, event]));
    expectLimitError(error, Code.INVALID_ARGUMENT, limit, field.replace("events[0]", "events[1]"));
    const after = await client.publish({ type: "hard.env.after" });
    expect(after.sequence).toBe(before.sequence + 1n);
  });

  it("accepts an envelope at every limit", async () => {
    const result = await client.publish({
      type: `hard.${"t".repeat(251)}`,
      source: "s".repeat(1024),
      id: "i".repeat(256),
      tags: Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(256, "t")),
      attributes: many(64, 900),
    });
    expect(result.sequence).toBeGreaterThan(0n);
  });
});
