/**
 * Issue rows 1 and 2: regular expressions from callers run on a linear-time
 * engine (RE2). A JSON Schema `pattern` of `^(a+)+$` and a filter
 * `source.matches("^(a+)+$")` no longer stall the server: a bystander's
 * GetBusInfo is answered within 100 ms throughout, the payload is refused
 * (or the event is filtered out) as the pattern says, and patterns RE2
 * cannot run are refused at registration or at open with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient, createRegistryClient, type ProtobusClient, type RegistryClient } from "@protobus/sdk";
import { expectInvalid, expectLimitError, expectNoStall, rejection, startHardeningServer, type HardeningServer, STALL_RETRY } from "./support.js";

const EVIL = "^(a+)+$";
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("regular expressions run in linear time", () => {
  let server: HardeningServer;
  let client: ProtobusClient;
  let registry: RegistryClient;
  beforeAll(async () => {
    server = await startHardeningServer(["--max-regex-size", "200"]);
    client = createClient({ address: server.address, source: "hardening" });
    registry = createRegistryClient({ address: server.address });
  });
  afterAll(async () => {
    await client.close();
    registry.close();
    await server.close();
  });

  it("row 1: a catastrophic JSON Schema pattern checks payloads without stalling anyone", STALL_RETRY, async () => {
    await registry.register("hard.regex.checked", {
      jsonSchema: { type: "object", properties: { name: { type: "string", pattern: EVIL } }, patternProperties: { [EVIL]: { type: "string" } } },
    });
    await registry.register("_base", { jsonSchema: { type: "object", properties: { subject: { type: "string", pattern: EVIL } } } });
    await expectNoStall(server, async () => {
      // 30 characters took 5 s on a backtracking engine, each more doubling it; 10,000 take nothing on RE2.
      for (const length of [30, 40, 1000, 10_000]) {
        const name = `${"a".repeat(length)}!`;
        const error = await rejection(
          client.publish({ type: "hard.regex.checked", subject: "a".repeat(Math.min(length, 1000)) + "!", data: encode({ name }), dataContentType: "application/json" }),
        );
        const failure = expectInvalid(error, "events[0].data.name", "must match pattern");
        expect(failure.fieldViolations.map((v) => v.field)).toContain("events[0].subject");
      }
      const ok = await client.publish({ type: "hard.regex.checked", subject: "aaaa", data: encode({ name: "a".repeat(5000) }), dataContentType: "application/json" });
      expect(ok.sequence).toBeGreaterThan(0n);
    });
  });

  it("row 1: a pattern RE2 cannot run is refused at registration with the reason", async () => {
    const lookahead = await rejection(registry.register("hard.regex.refused", { jsonSchema: { type: "string", pattern: "^(?=a)a+$" } }));
    expectInvalid(lookahead, "schema.json_schema", "/pattern");
    expect((lookahead as Error).message).toContain("lookahead");
    const backreference = await rejection(
      registry.register("hard.regex.refused", { jsonSchema: { type: "object", patternProperties: { "^(a)\\1$": { type: "string" } } } }),
    );
    expectInvalid(backreference, "schema.json_schema", "backreference");
    const dryRun = await rejection(registry.check("hard.regex.refused", { jsonSchema: { type: "string", pattern: "(?<!a)b" } }));
    expectInvalid(dryRun, "schema.json_schema", "RE2");
  });

  it("row 1: a pattern over --max-regex-size is refused naming the limit", async () => {
    const long = await rejection(registry.register("hard.regex.large", { jsonSchema: { type: "string", pattern: "a".repeat(201) } }));
    expectLimitError(long, Code.INVALID_ARGUMENT, "max-regex-size", "schema.json_schema");
    // Short to write, large to run: a counted repetition compiles to one instruction per count.
    const repeated = await rejection(registry.register("hard.regex.large", { jsonSchema: { type: "string", pattern: "[a-z]{500}" } }));
    expectLimitError(repeated, Code.INVALID_ARGUMENT, "max-regex-size", "schema.json_schema");
  });

  it("row 2: a catastrophic filter regex matches without stalling anyone", STALL_RETRY, async () => {
    const subscription = client.subscribe("hard.filter.>", { filter: `source.matches("${EVIL}")`, autoAck: true, from: "latest" });
    await subscription.opened();
    const received: string[] = [];
    const reading = (async () => {
      for await (const event of subscription) {
        received.push(event.source);
        if (event.type === "hard.filter.last") break;
      }
    })();
    await expectNoStall(server, async () => {
      for (let i = 0; i < 20; i++) {
        // 28 characters took 1.2 s on a backtracking engine; each more doubled it.
        await client.publish({ type: "hard.filter.evil", source: `${"a".repeat(28 + i * 50)}!` });
      }
      await client.publish({ type: "hard.filter.good", source: "aaaa" });
      await client.publish({ type: "hard.filter.last", source: "a".repeat(1000) });
      await reading;
    });
    subscription.close();
    expect(received).toEqual(["aaaa", "a".repeat(1000)]);
  });

  it("row 2: a filter regex RE2 cannot run, or over the limit, is refused at open", async () => {
    const open = async (filter: string) => {
      const subscription = client.subscribe("hard.filter.>", { filter, reconnect: false });
      const error = await rejection(subscription.opened());
      subscription.close();
      return error;
    };
    expectInvalid(await open(`source.matches("(?=a)")`), "open.filter", "lookahead");
    expectLimitError(await open(`source.matches("${"a".repeat(201)}")`), Code.INVALID_ARGUMENT, "max-regex-size", "open.filter");
  });
});
