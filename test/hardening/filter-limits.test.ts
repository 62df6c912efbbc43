/**
 * Issue row 3, the part at open: a filter of 2,000 nested parentheses (which
 * overflowed the parser's stack, was stored with its group and then stopped
 * every start) is refused at open naming `max-filter-depth`, for a
 * broadcast subscription and a consumer group alike, and no group is
 * created; an over-long filter names `max-filter-length`. A group with a
 * filter within the limits opens as before. (A stored group whose filter
 * no longer compiles is reported as broken: test/resources/broken-group.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient, type ProtobusClient } from "@protobus/sdk";
import { expectLimitError, rejection, startHardeningServer, type HardeningServer } from "./support.js";

describe("filter limits at open", () => {
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

  const open = async (filter: string, group?: string) => {
    const subscription = client.subscribe("hard.filter.>", { filter, reconnect: false, ...(group !== undefined ? { group } : {}) });
    const error = await rejection(subscription.opened());
    subscription.close();
    return error;
  };

  it("row 3: 2,000 nested parentheses are refused at open, broadcast or group, naming max-filter-depth; no group is stored", async () => {
    const nested = `${"(".repeat(2000)}priority < 2${")".repeat(2000)}`;
    expectLimitError(await open(nested), Code.INVALID_ARGUMENT, "max-filter-depth", "open.filter");
    expectLimitError(await open(nested, "hard-nested"), Code.INVALID_ARGUMENT, "max-filter-depth", "open.filter");
    expectLimitError(await open(`${"!".repeat(2000)}true`, "hard-nested"), Code.INVALID_ARGUMENT, "max-filter-depth", "open.filter");
    expectLimitError(await open(`priority in ${"[".repeat(500)}1${"]".repeat(500)}`), Code.INVALID_ARGUMENT, "max-filter-depth", "open.filter");
    expect((await client.listGroups()).map((g) => g.name)).not.toContain("hard-nested");
  });

  it("row 3: a filter over max-filter-length is refused naming it", async () => {
    const long = Array.from({ length: 500 }, (_, i) => `subject == "s${i}"`).join(" || ");
    expect(long.length).toBeGreaterThan(4096);
    expectLimitError(await open(long, "hard-long"), Code.INVALID_ARGUMENT, "max-filter-length", "open.filter");
  });

  it("row 3: a group with a filter within the limits opens", async () => {
    const within = `${"(".repeat(30)}priority < 2${")".repeat(30)}`;
    const subscription = client.subscribe("hard.filter.>", { filter: within, group: "hard-within", reconnect: false });
    await subscription.opened();
    subscription.close();
    await client.publish({ type: "hard.filter.kept", priority: 1 });
    expect((await client.listGroups()).map((g) => g.name)).toContain("hard-within");
  });
});
