/**
 * Issue row 8: many wildcard patterns in one subscription cost little (they
 * are matched through one token trie, not one regular expression each), and
 * their number is limited (`max-patterns`): 100,000 patterns are refused
 * naming the limit, 10,000 (the limit) take 2,000 publishes of distinct
 * types without holding up a bystander's GetBusInfo past 100 ms. The trie
 * matches exactly what the NATS semantics say, checked against a reference.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient, type ProtobusClient } from "@protobus/sdk";
import { compilePatterns } from "@protobus/sdk/internal";
import { expectLimitError, expectNoStall, rejection, startHardeningServer, type HardeningServer, STALL_RETRY } from "./support.js";

/** The reference semantics: one regular expression per pattern. */
function reference(pattern: string, type: string): boolean {
  const source = pattern
    .split(".")
    .map((token) => (token === "*" ? "[^.]+" : token === ">" ? "[^.]+(?:\\.[^.]+)*" : token))
    .join("\\.");
  return new RegExp(`^${source}$`).test(type);
}

describe("patterns per subscription", () => {
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

  it("the pattern trie matches as one regular expression per pattern does", () => {
    const token = fc.constantFrom("a", "b", "c", "ab");
    const patternToken = fc.oneof(token, fc.constant("*"));
    const pattern = fc
      .tuple(fc.array(patternToken, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([tokens, rest]) => (rest ? [...tokens, ">"] : tokens).join("."));
    const type = fc.array(token, { minLength: 2, maxLength: 6 }).map((tokens) => tokens.join("."));
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 8 }), fc.array(type, { minLength: 1, maxLength: 8 }), (patterns, types) => {
        const matcher = compilePatterns(patterns);
        for (const t of types) expect(matcher.matches(t)).toBe(patterns.some((p) => reference(p, t)));
      }),
      { numRuns: 2000, seed: 8 },
    );
  });

  it("row 8: 10,000 wildcard patterns cost little per publish; nobody waits", STALL_RETRY, async () => {
    const patterns = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? `svc${i}.*.created` : `svc${i}.>`));
    const subscription = client.subscribe(patterns, { from: "latest", autoAck: true });
    await subscription.opened();
    // For even i only `svc<i>.*.created` is there, for odd i `svc<i>.>`; `other<i>` matches nothing.
    const typeOf = (i: number): string => (i % 3 === 2 ? `other${i}.task.created` : `svc${i}.task.${i % 4 === 2 ? "failed" : "created"}`);
    const matching = new Set(
      Array.from({ length: 2000 }, (_, i) => i)
        .filter((i) => i % 3 !== 2 && (i % 2 === 1 || i % 4 === 0))
        .map(typeOf),
    );
    const received = new Set<string>();
    const reading = (async () => {
      for await (const event of subscription) {
        received.add(event.type);
        if (event.type === "svc0.done.created") break;
      }
    })();
    await expectNoStall(server, async () => {
      // Small batches: a batch of 100 holds the event loop for its commit and fan-out whatever the patterns.
      for (let batch = 0; batch < 200; batch++) {
        await client.publish(Array.from({ length: 10 }, (_, k) => ({ type: typeOf(batch * 10 + k) })));
      }
      await client.publish({ type: "svc0.done.created" });
      await reading;
    });
    subscription.close();
    received.delete("svc0.done.created");
    expect([...received].sort()).toEqual([...matching].sort());
  });

  // Last: the garbage of its 2 MB request is collected while nothing is measured.
  it("row 8: 100,000 wildcard patterns are refused naming --max-patterns", async () => {
    const patterns = Array.from({ length: 100_000 }, (_, i) => `svc${i}.*.created`);
    const subscription = client.subscribe(patterns, { reconnect: false });
    expectLimitError(await rejection(subscription.opened()), Code.INVALID_ARGUMENT, "max-patterns", "open.patterns");
    subscription.close();
  });
});
