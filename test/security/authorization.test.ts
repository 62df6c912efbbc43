/**
 * Every RPC of EventBus and SchemaRegistry called with no credential, a
 * wrong token, a malformed one, an expired JWT, a JWT signed by a key the
 * JWKS does not have, a JWT for another audience, a principal of another
 * team, and the right principal (by token and by JWT): the expected code
 * every time. The table must name every method the services define, so a
 * new RPC without a rule fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { credentials, type Client, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { Code } from "@protobus/sdk";
import {
  Compatibility,
  EventBusClient,
  EventBusService,
  Format,
  QueryEventsRequest,
  SchemaRegistryClient,
  SchemaRegistryService,
  type Event,
} from "@protobus/sdk/proto";
import { createToken, startServer, UNAUTHENTICATED_MESSAGE, type ProtobusServer } from "@protobus/server";
import { bearerMetadata, makeKey, signJwt, startJwks, type JwksServer } from "../support/auth.js";
import { tempDir } from "../support/test-server.js";

const ISSUER = "https://issuer.test";
const AUDIENCE = "protobus";

const POLICY = `
grants:
  - principals: [owner]
    publish: [agent.task.*]
    subscribe: [agent.task.*]
    sources: [owner]
    groups:
      "team-a-*": [join, settings, delete, dead-letters]
    schemas:
      "agent.task.>": [write, delete, compatibility]
    admin: [view]
  - principals: [other]
    publish: [billing.>]
    subscribe: [billing.>]
    groups:
      "team-b-*": [join, settings, delete, dead-letters]
`;

function event(type: string, source: string, correlationId = ""): Event {
  return {
    id: "",
    source,
    type,
    specVersion: "",
    time: undefined,
    subject: "",
    dataContentType: "application/json",
    dataSchema: "",
    data: Buffer.from("{}"),
    correlationId,
    causationId: "",
    priority: 5,
    tags: [],
    expireTime: undefined,
    orderingKey: "",
    traceparent: "",
    tracestate: "",
    attributes: {},
    sequence: 0n,
    publishTime: undefined,
    schemaVersion: 0,
  };
}

type Raw = Client & Record<string, (...args: unknown[]) => unknown>;

/** Calls one method and resolves to the status code it ended with (0 for an answer). */
function callCode(client: Raw, method: string, kind: "unary" | "publish-stream" | "subscribe", request: unknown, metadata: Metadata): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    const deadline = new Date(Date.now() + 10_000);
    if (kind === "unary") {
      client[method]?.(request, metadata, { deadline }, (error: ServiceError | null) => resolve({ code: error?.code ?? 0, details: error?.details ?? "" }));
      return;
    }
    const call = client[method]?.(metadata, { deadline }) as NodeJS.EventEmitter & { write(m: unknown): void; end(): void; cancel(): void };
    let settled = false;
    const settle = (code: number, details = ""): void => {
      if (settled) return;
      settled = true;
      resolve({ code, details });
      if (kind === "subscribe") call.cancel();
    };
    call.on("data", () => settle(0));
    call.on("error", (error: ServiceError) => settle(error.code, error.details));
    call.on("end", () => settle(0));
    call.write(request);
    if (kind === "publish-stream") call.end();
  });
}

describe("every RPC refuses what it must and allows what it may", () => {
  const dir = tempDir();
  let server: ProtobusServer;
  let jwks: JwksServer;
  let bus: Raw;
  let registry: Raw;
  const creds: Record<string, string | undefined> = {};
  let eventId = "";

  beforeAll(async () => {
    const key = await makeKey("k1");
    const stranger = await makeKey("k9");
    jwks = await startJwks([key]);
    const tokenFile = join(dir.path, "tokens.yaml");
    const policy = join(dir.path, "policy.yaml");
    writeFileSync(policy, POLICY);
    creds.ownerToken = createToken(tokenFile, { principal: "owner" }).token;
    creds.otherToken = createToken(tokenFile, { principal: "other" }).token;
    creds.ownerJwt = await signJwt(key, { sub: "owner", iss: ISSUER, aud: AUDIENCE });
    creds.expiredJwt = await signJwt(key, { sub: "owner", iss: ISSUER, aud: AUDIENCE, expiresIn: -120 });
    creds.unknownKeyJwt = await signJwt(stranger, { sub: "owner", iss: ISSUER, aud: AUDIENCE });
    creds.otherAudienceJwt = await signJwt(key, { sub: "owner", iss: ISSUER, aud: "someone-else" });
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      store: "memory",
      logLevel: "silent",
      tokenFile,
      jwksUrl: jwks.url,
      jwtIssuer: ISSUER,
      jwtAudience: AUDIENCE,
      policy,
      shutdownGraceMs: 1000,
    });
    bus = new EventBusClient(server.address, credentials.createInsecure()) as unknown as Raw;
    registry = new SchemaRegistryClient(server.address, credentials.createInsecure()) as unknown as Raw;
    // The owner's event, flow and group exist before the table runs.
    const owner = bearerMetadata(creds.ownerToken);
    const published = await new Promise<{ results: { id: string }[] }>((resolve, reject) =>
      bus.publish?.({ events: [event("agent.task.created", "owner/planner", "flow-1")] }, owner, (e: ServiceError | null, r: { results: { id: string }[] }) =>
        e ? reject(e) : resolve(r),
      ),
    );
    eventId = published.results[0]?.id ?? "";
    const opened = await callCode(bus, "subscribe", "subscribe", { request: { $case: "open", open: { patterns: ["agent.task.*"], group: "team-a-workers", start: undefined, maxInFlight: 0, manualCredit: false, filter: "", groupSettings: undefined, batchDeliveries: false } } }, owner);
    expect(opened.code).toBe(0);
  });

  afterAll(async () => {
    bus.close();
    registry.close();
    await server.shutdown();
    await jwks.close();
    dir.dispose();
  });

  const open = (patterns: string[], group: string, settings = false) => ({
    request: {
      $case: "open",
      open: {
        patterns,
        group,
        start: undefined,
        maxInFlight: 0,
        manualCredit: false,
        filter: "",
        groupSettings: settings ? { ackDeadline: { seconds: 0n, nanos: 10_000_000 }, maxDeliveries: 0, backoffMin: undefined, backoffMax: undefined } : undefined,
        batchDeliveries: false,
      },
    },
  });

  /** Method path → how to call it, and what "other" gets (the owner is always let through). */
  const TABLE: Record<string, { client: "bus" | "registry"; method: string; kind?: "publish-stream" | "subscribe"; request: () => unknown; other: number }> = {
    "/protobus.v1.EventBus/Publish": { client: "bus", method: "publish", request: () => ({ events: [event("agent.task.created", "owner/x")] }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/PublishStream": {
      client: "bus",
      method: "publishStream",
      kind: "publish-stream",
      request: () => ({ events: [event("agent.task.created", "owner/x")] }),
      other: Code.PERMISSION_DENIED,
    },
    "/protobus.v1.EventBus/Subscribe": { client: "bus", method: "subscribe", kind: "subscribe", request: () => open(["agent.task.*"], "team-a-workers", true), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/QueryEvents": { client: "bus", method: "queryEvents", request: () => QueryEventsRequest.fromPartial({ patterns: ["agent.task.*"] }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/GetEvent": { client: "bus", method: "getEvent", request: () => ({ id: eventId }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/GetBusInfo": { client: "bus", method: "getBusInfo", request: () => ({}), other: Code.OK },
    "/protobus.v1.EventBus/GetFlow": { client: "bus", method: "getFlow", request: () => ({ correlationId: "flow-1" }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/ListGroups": { client: "bus", method: "listGroups", request: () => ({}), other: Code.OK },
    "/protobus.v1.EventBus/GetGroup": { client: "bus", method: "getGroup", request: () => ({ name: "team-a-workers" }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/DeleteGroup": { client: "bus", method: "deleteGroup", request: () => ({ name: "team-a-absent" }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/ListDeadLetters": { client: "bus", method: "listDeadLetters", request: () => ({ group: "team-a-workers", patterns: [], fromSequence: 0n, limit: 0, pageToken: "" }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/RedriveDeadLetters": { client: "bus", method: "redriveDeadLetters", request: () => ({ group: "team-a-workers", sequences: [], all: true }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/PurgeDeadLetters": { client: "bus", method: "purgeDeadLetters", request: () => ({ group: "team-a-workers", sequences: [], all: true }), other: Code.PERMISSION_DENIED },
    "/protobus.v1.EventBus/GetDeliveryStats": { client: "bus", method: "getDeliveryStats", request: () => ({}), other: Code.PERMISSION_DENIED },
    "/protobus.v1.SchemaRegistry/RegisterSchema": {
      client: "registry",
      method: "registerSchema",
      request: () => ({ schema: { subject: "agent.task.created", version: 0, format: Format.FORMAT_JSON_SCHEMA, definition: { $case: "jsonSchema", jsonSchema: '{"type":"object"}' }, createTime: undefined, deleted: false } }),
      other: Code.PERMISSION_DENIED,
    },
    "/protobus.v1.SchemaRegistry/GetSchema": { client: "registry", method: "getSchema", request: () => ({ subject: "agent.task.created", version: 0 }), other: Code.OK },
    "/protobus.v1.SchemaRegistry/ListSchemas": { client: "registry", method: "listSchemas", request: () => ({ subjectPrefix: "", includeDeleted: false }), other: Code.OK },
    "/protobus.v1.SchemaRegistry/ListVersions": { client: "registry", method: "listVersions", request: () => ({ subject: "agent.task.created", includeDeleted: false }), other: Code.OK },
    "/protobus.v1.SchemaRegistry/CheckCompatibility": {
      client: "registry",
      method: "checkCompatibility",
      request: () => ({ schema: { subject: "agent.task.created", version: 0, format: Format.FORMAT_JSON_SCHEMA, definition: { $case: "jsonSchema", jsonSchema: '{"type":"object"}' }, createTime: undefined, deleted: false }, compatibility: 0 }),
      other: Code.OK,
    },
    "/protobus.v1.SchemaRegistry/GetCompatibility": { client: "registry", method: "getCompatibility", request: () => ({ subject: "agent.task.created" }), other: Code.OK },
    "/protobus.v1.SchemaRegistry/SetCompatibility": {
      client: "registry",
      method: "setCompatibility",
      request: () => ({ subject: "agent.task.created", compatibility: Compatibility.COMPATIBILITY_NONE }),
      other: Code.PERMISSION_DENIED,
    },
    "/protobus.v1.SchemaRegistry/DeleteSchemaVersion": { client: "registry", method: "deleteSchemaVersion", request: () => ({ subject: "agent.task.created", version: 99 }), other: Code.PERMISSION_DENIED },
  };

  it("has a row for every method the services define", () => {
    const paths = [...Object.values(EventBusService), ...Object.values(SchemaRegistryService)].map((d) => d.path).sort();
    expect(Object.keys(TABLE).sort()).toEqual(paths);
  });

  const REFUSED = ["none", "wrongToken", "malformed", "expiredJwt", "unknownKeyJwt", "otherAudienceJwt"] as const;

  it.each(Object.keys(TABLE))("%s", async (path) => {
    const row = TABLE[path];
    if (row === undefined) throw new Error(path);
    const client = row.client === "bus" ? bus : registry;
    const kind = row.kind ?? "unary";
    const tokens: Record<(typeof REFUSED)[number], string | undefined> = {
      none: undefined,
      wrongToken: `pbt_AAAAAAAAAAAA_${"A".repeat(43)}`,
      malformed: "not-a-credential",
      expiredJwt: creds.expiredJwt,
      unknownKeyJwt: creds.unknownKeyJwt,
      otherAudienceJwt: creds.otherAudienceJwt,
    };
    for (const name of REFUSED) {
      const result = await callCode(client, row.method, kind, row.request(), bearerMetadata(tokens[name]));
      expect({ name, ...result }).toEqual({ name, code: Code.UNAUTHENTICATED, details: UNAUTHENTICATED_MESSAGE });
    }
    const other = await callCode(client, row.method, kind, row.request(), bearerMetadata(creds.otherToken));
    expect({ who: "other", code: other.code }).toEqual({ who: "other", code: row.other });
    if (row.other === Code.PERMISSION_DENIED) expect(other.details).toMatch(/^principal 'other' lacks permission '[a-z.-]+'( on '.+')?$/);
    for (const who of ["ownerToken", "ownerJwt"]) {
      const owner = await callCode(client, row.method, kind, row.request(), bearerMetadata(creds[who]));
      expect([Code.UNAUTHENTICATED, Code.PERMISSION_DENIED], `${who}: ${owner.code} ${owner.details}`).not.toContain(owner.code);
    }
  });

  it("lists to another team only the groups it may see", async () => {
    const list = (token: string | undefined): Promise<string[]> =>
      new Promise((resolve, reject) =>
        bus.listGroups?.({}, bearerMetadata(token), (e: ServiceError | null, r: { groups: { name: string }[] }) => (e ? reject(e) : resolve(r.groups.map((g) => g.name)))),
      );
    expect(await list(creds.ownerToken)).toContain("team-a-workers");
    expect(await list(creds.otherToken)).not.toContain("team-a-workers");
  });

  it("health and reflection need no credential", async () => {
    const { HealthClient } = await import("@protobus/sdk/proto");
    const health = new HealthClient(server.address, credentials.createInsecure());
    const status = await new Promise<number>((resolve) => health.check({ service: "" }, (e) => resolve(e?.code ?? 0)));
    health.close();
    expect(status).toBe(0);
  });
});
