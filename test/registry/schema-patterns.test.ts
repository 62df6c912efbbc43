/**
 * Every JSON Schema `pattern` and `patternProperties` key runs its own
 * expression: several patterns in one schema, and patterns of schemas
 * registered one after the other (compiled by one ajv instance), each
 * accept and refuse by themselves, on a real server; simple ones run on the
 * engine's own RegExp, the others on RE2, alike.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ProtobusError, createRegistryClient, type RegistryClient } from "@protobus/sdk";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer | undefined;
let registry: RegistryClient | undefined;

afterEach(async () => {
  registry?.close();
  await t?.close();
  registry = undefined;
  t = undefined;
});

async function violations(promise: Promise<unknown>): Promise<Record<string, string>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ProtobusError)) throw new Error(`expected a ProtobusError, got ${String(error)}`);
  return Object.fromEntries(error.fieldViolations.map((v) => [v.field, v.description]));
}

describe("JSON Schema patterns", () => {
  it("each run their own expression, within a schema and across schemas", async () => {
    t = await startTestServer();
    registry = createRegistryClient({ address: t.address });
    await registry.register("shop.order.placed", {
      jsonSchema: {
        type: "object",
        properties: { id: { type: "string", pattern: "^o-[0-9]+$" }, sku: { type: "string", pattern: "^[A-Z]{3}-\\d{4}$" }, note: { type: "string", pattern: "(x|yz)+" } },
        patternProperties: { "^meta_[a-z]+$": { type: "integer" } },
      },
    });
    await registry.register("shop.user.joined", { jsonSchema: { type: "object", properties: { handle: { type: "string", pattern: "^@[a-z_]+$" } } } });

    const order = { id: "o-17", sku: "ABC-1234", note: "ayzb", meta_size: 3 };
    expect((await t.client.publish({ type: "shop.order.placed", data: order })).sequence).toBeGreaterThan(0n);
    expect((await t.client.publish({ type: "shop.user.joined", data: { handle: "@ada_l" } })).sequence).toBeGreaterThan(0n);

    expect(await violations(t.client.publish({ type: "shop.order.placed", data: { id: "o-17x", sku: "AB-1234", note: "ab", meta_size: "big" } }))).toEqual({
      "events[0].data.id": 'must match pattern "^o-[0-9]+$"',
      "events[0].data.sku": 'must match pattern "^[A-Z]{3}-\\d{4}$"',
      "events[0].data.note": 'must match pattern "(x|yz)+"',
      "events[0].data.meta_size": "must be integer",
    });
    expect(await violations(t.client.publish({ type: "shop.user.joined", data: { handle: "o-17" } }))).toEqual({
      "events[0].data.handle": 'must match pattern "^@[a-z_]+$"',
    });
  });
});
