/**
 * The registry with stock tools only: health answers SERVING for
 * protobus.v1.SchemaRegistry, and `buf curl` registers and reads a schema
 * through server reflection.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials } from "@grpc/grpc-js";
import { HealthCheckResponse_ServingStatus, HealthClient } from "@protobus/sdk/proto";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { BUF } from "./support.js";

const run = promisify(execFile);

describe("the registry with stock gRPC tools", () => {
  let t: TestServer;
  const curl = async (path: string, body: unknown): Promise<unknown> => {
    const { stdout } = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d", JSON.stringify(body), `http://${t.address}${path}`]);
    return JSON.parse(stdout) as unknown;
  };
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("answers SERVING for protobus.v1.SchemaRegistry", async () => {
    const health = new HealthClient(t.address, credentials.createInsecure());
    const status = await new Promise<number>((resolve, reject) =>
      health.check({ service: "protobus.v1.SchemaRegistry" }, (error, response) => (error ? reject(error) : resolve(response.status))),
    );
    health.close();
    expect(status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("registers, reads and sets modes with buf curl through reflection alone", async () => {
    const registered = await curl("/protobus.v1.SchemaRegistry/RegisterSchema", {
      schema: { subject: "curl.task.created", jsonSchema: JSON.stringify({ type: "object", required: ["id"] }) },
    });
    expect(registered).toMatchObject({ schema: { subject: "curl.task.created", version: 1, format: "FORMAT_JSON_SCHEMA" } });
    expect(await curl("/protobus.v1.SchemaRegistry/GetSchema", { subject: "curl.task.created" })).toMatchObject({ version: 1 });
    expect(await curl("/protobus.v1.SchemaRegistry/SetCompatibility", { subject: "curl.task.created", compatibility: "COMPATIBILITY_FULL" })).toEqual({
      subject: "curl.task.created",
      compatibility: "COMPATIBILITY_FULL",
    });
  });
});
