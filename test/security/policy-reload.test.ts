/**
 * The scenario of another team on the same network, once authentication is
 * on: a principal granted `agent.task.*` cannot subscribe `agent.>`, publish
 * `billing.invoice.created`, redrive or purge another team's dead letters,
 * change another team's group settings, register `_base`, or publish under
 * another source. The policy file is reloaded without a restart: a removed
 * grant is refused within 2 s and an open subscription that lost it ends
 * PERMISSION_DENIED; a broken file leaves the policy in force. Admin
 * actions and refusals arrive as `protobus.audit.*` events.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { Code } from "@protobus/sdk";
import { Compatibility, EventBusClient, Format, QueryEventsRequest, SchemaRegistryClient } from "@protobus/sdk/proto";
import { AUDIT_ADMIN_TYPE, AUDIT_DENIED_TYPE, createToken, startServer, type ProtobusServer } from "@protobus/server";
import { rawEvent, rawSubscribe, rawUnary, type RawClient } from "../support/raw-calls.js";
import { tempDir, waitFor } from "../support/test-server.js";

const policyText = (plannerSubscribes: boolean): string => `
grants:
  - principals: [planner]
    publish: [agent.task.*]
    subscribe: [${plannerSubscribes ? "agent.task.*" : ""}]
    sources: ["agents/{principal}"]
    groups:
      "planner-*": [join, settings, dead-letters]
    schemas:
      "agent.task.>": [write, compatibility]
  - principals: [billing]
    publish: [billing.>]
    subscribe: [billing.>]
    groups:
      "billing-*": [join, settings, delete, dead-letters]
  - principals: [auditor]
    subscribe: [protobus.audit.>]
`;

describe("another team, and policy reload", () => {
  const dir = tempDir();
  const policy = join(dir.path, "policy.yaml");
  const tokens: Record<string, string> = {};
  let server: ProtobusServer;
  let bus: RawClient;
  let registry: RawClient;

  beforeAll(async () => {
    const tokenFile = join(dir.path, "tokens.yaml");
    for (const p of ["planner", "billing", "auditor"]) tokens[p] = createToken(tokenFile, { principal: p }).token;
    writeFileSync(policy, policyText(true));
    server = await startServer({ host: "127.0.0.1", port: 0, store: "memory", logLevel: "silent", tokenFile, policy, securityReloadMs: 100, shutdownGraceMs: 1000 });
    bus = new EventBusClient(server.address, credentials.createInsecure()) as unknown as RawClient;
    registry = new SchemaRegistryClient(server.address, credentials.createInsecure()) as unknown as RawClient;
    // Billing's group exists, with an ack deadline of 30 s.
    const member = rawSubscribe(bus, { patterns: ["billing.>"], group: "billing-invoices" }, tokens.billing);
    await member.opened;
    member.cancel();
  });

  afterAll(async () => {
    bus.close();
    registry.close();
    await server.shutdown();
    dir.dispose();
  });

  it("keeps a principal granted agent.task.* to agent.task.*", async () => {
    const wide = rawSubscribe(bus, { patterns: ["agent.>"] }, tokens.planner);
    expect(await wide.ended).toEqual({ code: Code.PERMISSION_DENIED, details: "principal 'planner' lacks permission 'subscribe' on 'agent.>'" });
    const mixed = rawSubscribe(bus, { patterns: ["agent.task.*", "billing.>"] }, tokens.planner);
    expect((await mixed.ended).details).toBe("principal 'planner' lacks permission 'subscribe' on 'billing.>'");
    const invoice = await rawUnary(bus, "publish", { events: [rawEvent("billing.invoice.created", "agents/planner")] }, tokens.planner);
    expect(invoice.details).toBe("principal 'planner' lacks permission 'publish' on 'billing.invoice.created'");
    const own = await rawUnary(bus, "publish", { events: [rawEvent("agent.task.created", "agents/planner/1")] }, tokens.planner);
    expect(own.code).toBe(0);
  });

  it("refuses a source outside the granted prefix", async () => {
    const spoofed = await rawUnary(bus, "publish", { events: [rawEvent("agent.task.created", "agents/coder")] }, tokens.planner);
    expect(spoofed.code).toBe(Code.PERMISSION_DENIED);
    expect(spoofed.details).toContain("publish.source");
    expect(spoofed.details).toContain("agents/planner");
  });

  it("keeps another team's group, dead letters and the base schema out of reach", async () => {
    for (const method of ["redriveDeadLetters", "purgeDeadLetters"]) {
      const outcome = await rawUnary(bus, method, { group: "billing-invoices", sequences: [], all: true }, tokens.planner);
      expect(outcome.details).toBe("principal 'planner' lacks permission 'group.dead-letters' on 'billing-invoices'");
    }
    const listed = await rawUnary(bus, "listDeadLetters", { group: "billing-invoices", patterns: [], fromSequence: 0n, limit: 0, pageToken: "" }, tokens.planner);
    expect(listed.code).toBe(Code.PERMISSION_DENIED);
    const join = rawSubscribe(bus, { patterns: ["agent.task.*"], group: "billing-invoices" }, tokens.planner);
    expect((await join.ended).code).toBe(Code.PERMISSION_DENIED);
    const deleted = await rawUnary(bus, "deleteGroup", { name: "billing-invoices" }, tokens.planner);
    expect(deleted.details).toBe("principal 'planner' lacks permission 'group.delete' on 'billing-invoices'");
    // Its own group: joined, but its settings only by those granted them.
    const settings = { ackDeadline: { seconds: 0n, nanos: 10_000_000 }, maxDeliveries: 0 };
    const billingSettings = rawSubscribe(bus, { patterns: ["billing.>"], group: "billing-invoices", groupSettings: settings }, tokens.planner);
    expect((await billingSettings.ended).code).toBe(Code.PERMISSION_DENIED);
    const group = await rawUnary<{ settings: { ackDeadline: { seconds: bigint } } }>(bus, "getGroup", { name: "billing-invoices" }, tokens.billing);
    expect(group.response?.settings.ackDeadline.seconds).toBe(30n);
    const base = await rawUnary(
      registry,
      "registerSchema",
      { schema: { subject: "_base", version: 0, format: Format.FORMAT_JSON_SCHEMA, definition: { $case: "jsonSchema", jsonSchema: '{"required":["x"]}' }, createTime: undefined, deleted: false } },
      tokens.planner,
    );
    expect(base.details).toBe("principal 'planner' lacks permission 'schema.write' on '_base'");
    const global = await rawUnary(registry, "setCompatibility", { subject: "", compatibility: Compatibility.COMPATIBILITY_NONE }, tokens.planner);
    expect(global.details).toBe("principal 'planner' lacks permission 'schema.compatibility'");
  });

  it("publishes admin actions and refusals as protobus.audit.* events", async () => {
    const audit = rawSubscribe(bus, { patterns: ["protobus.audit.>"] }, tokens.auditor);
    await audit.opened;
    const set = await rawUnary(registry, "setCompatibility", { subject: "agent.task.created", compatibility: Compatibility.COMPATIBILITY_FULL }, tokens.planner);
    expect(set.code).toBe(0);
    await rawUnary(bus, "purgeDeadLetters", { group: "billing-invoices", sequences: [], all: true }, tokens.planner);
    await rawUnary(bus, "getBusInfo", {}, "pbt_not_a_real_token");
    await waitFor(() => audit.events.length >= 3, 5_000, "three audit events");
    audit.cancel();
    const records = audit.events.map((e) => ({ type: e.type, ...(JSON.parse(Buffer.from(e.data).toString("utf8")) as Record<string, unknown>) }));
    expect(records).toContainEqual(expect.objectContaining({ type: AUDIT_ADMIN_TYPE, principal: "planner", action: "schema.compatibility", resource: "schema/agent.task.created", outcome: "ok" }));
    expect(records).toContainEqual(expect.objectContaining({ type: AUDIT_DENIED_TYPE, principal: "planner", action: "group.dead-letters", resource: "billing-invoices", outcome: "denied" }));
    expect(records).toContainEqual(expect.objectContaining({ type: AUDIT_DENIED_TYPE, principal: "anonymous", action: "authenticate", outcome: "unauthenticated", reason: "malformed token" }));
  });

  it("follows the policy file: a revoked grant is refused within 2 s and ends open subscriptions", async () => {
    const open = rawSubscribe(bus, { patterns: ["agent.task.*"] }, tokens.planner);
    await open.opened;
    const query = QueryEventsRequest.fromPartial({ patterns: ["agent.task.*"] });
    expect((await rawUnary(bus, "queryEvents", query, tokens.planner)).code).toBe(0);
    // A broken file is not applied.
    writeFileSync(policy, "grants: [ this is not a policy");
    await new Promise((r) => setTimeout(r, 400));
    expect((await rawUnary(bus, "queryEvents", query, tokens.planner)).code).toBe(0);
    const written = Date.now();
    writeFileSync(policy, policyText(false));
    const ended = await open.ended;
    expect(Date.now() - written).toBeLessThan(2_000);
    expect(ended).toEqual({ code: Code.PERMISSION_DENIED, details: "principal 'planner' lacks permission 'subscribe' on 'agent.task.*'" });
    expect((await rawUnary(bus, "queryEvents", query, tokens.planner)).code).toBe(Code.PERMISSION_DENIED);
    writeFileSync(policy, policyText(true));
    await waitFor(async () => (await rawUnary(bus, "queryEvents", query, tokens.planner)).code === 0, 2_000, "the grant back");
  });
});
