/**
 * The registry and validated publish seen by a plain grpc-js client built
 * from the .proto files alone: it registers a schema, and reads the
 * google.rpc.BadRequest of a bad payload and the google.rpc.PreconditionFailure
 * of an incompatible schema with nothing but the google/rpc protos.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPlainService, plainEventBus, plainUnary } from "../support/plain-client.js";
import { REPO_ROOT, startTestServer, type TestServer } from "../support/test-server.js";
import { jsonFixture } from "./support.js";

type PlainClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

async function details(error: grpc.ServiceError): Promise<Array<{ type: string; value: Record<string, unknown> }>> {
  const root = await new protobuf.Root().load(
    [join(REPO_ROOT, "proto/google/rpc/status.proto"), join(REPO_ROOT, "proto/google/rpc/error_details.proto")],
    { keepCase: true },
  );
  const raw = error.metadata.get("grpc-status-details-bin")[0] as Buffer;
  const status = root.lookupType("google.rpc.Status").decode(raw) as unknown as { details: Array<{ type_url: string; value: Uint8Array }> };
  return status.details.map((d) => {
    const type = d.type_url.replace("type.googleapis.com/", "");
    return { type, value: root.lookupType(type).decode(d.value) as unknown as Record<string, unknown> };
  });
}

describe("a plain grpc-js client and the schema registry", () => {
  let t: TestServer;
  let registry: PlainClient;
  let bus: ReturnType<typeof plainEventBus>;
  beforeAll(async () => {
    t = await startTestServer();
    const SchemaRegistry = loadPlainService("protobus/v1/registry.proto", "protobus.v1.SchemaRegistry");
    registry = new SchemaRegistry(t.address, grpc.credentials.createInsecure()) as unknown as PlainClient;
    bus = plainEventBus(t.address);
  });
  afterAll(async () => {
    registry.close();
    bus.close();
    await t.close();
  });

  it("registers a JSON Schema and sees the BadRequest of a bad payload", async () => {
    const registered = await plainUnary<{ schema: { version: number; format: string }; already_registered: boolean }>(registry, "RegisterSchema", {
      schema: { subject: "plain.task.created", json_schema: jsonFixture("task-created.v1.json") },
    });
    expect(registered.schema).toMatchObject({ version: 1, format: "FORMAT_JSON_SCHEMA" });

    const error = await plainUnary(bus, "Publish", {
      events: [
        { source: "plain", type: "plain.task.created", data_content_type: "application/json", data: Buffer.from('{"taskId":"t","task":{"title":"x","priority":12}}') },
      ],
    }).catch((e: unknown) => e as grpc.ServiceError);
    expect((error as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    const [detail] = await details(error as grpc.ServiceError);
    expect(detail?.type).toBe("google.rpc.BadRequest");
    expect(detail?.value.field_violations).toEqual([expect.objectContaining({ field: "events[0].data.task.priority", description: "must be <= 9" })]);
  });

  it("sees the PreconditionFailure of an incompatible schema, one violation per broken rule", async () => {
    await plainUnary(registry, "RegisterSchema", { schema: { subject: "plain.job.created", json_schema: jsonFixture("task-created.v1.json") } });
    const error = await plainUnary(registry, "RegisterSchema", {
      schema: { subject: "plain.job.created", json_schema: jsonFixture("task-created.v2-breaking.json") },
    }).catch((e: unknown) => e as grpc.ServiceError);
    expect((error as grpc.ServiceError).code).toBe(grpc.status.FAILED_PRECONDITION);
    const [detail] = await details(error as grpc.ServiceError);
    expect(detail?.type).toBe("google.rpc.PreconditionFailure");
    const violations = detail?.value.violations as Array<{ type: string; subject: string; description: string }>;
    expect(violations.map((v) => v.type).sort()).toEqual(["JSON_ENUM_VALUE_REMOVED", "JSON_MAXIMUM_TIGHTENED", "JSON_MAX_LENGTH_TIGHTENED", "JSON_REQUIRED_ADDED"]);
    expect(violations.find((v) => v.type === "JSON_REQUIRED_ADDED")).toEqual({
      type: "JSON_REQUIRED_ADDED",
      subject: "/properties/owner",
      description: 'BACKWARD against version 1: property "owner" is required in the new schema but not in version 1',
    });
  });
});
