/**
 * Stock tools work without our code: health answers SERVING, reflection
 * lists and describes the services, and `buf curl` (which knows nothing of
 * protobus) calls Publish through reflection alone.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials } from "@grpc/grpc-js";
import { HealthCheckResponse_ServingStatus, HealthClient } from "@protobus/sdk/proto";
import { REPO_ROOT, startTestServer, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);
const BUF = join(REPO_ROOT, "node_modules/.bin/buf");

async function bufCurl(address: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args.slice(0, -1), `http://${address}${args.at(-1)}`]);
  return stdout;
}

describe("health and reflection", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("answers SERVING for the server and for EventBus", async () => {
    const health = new HealthClient(t.address, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<number>((resolve, reject) =>
        health.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))),
      );
    expect(await check("")).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(await check("protobus.v1.EventBus")).toBe(HealthCheckResponse_ServingStatus.SERVING);
    await expect(check("no.such.Service")).rejects.toMatchObject({ code: 5 });
    health.close();
  });

  it("lists the services through reflection with buf curl", async () => {
    const out = await bufCurl(t.address, "--list-services", "");
    expect(out.split("\n")).toEqual(expect.arrayContaining(["protobus.v1.EventBus", "grpc.health.v1.Health"]));
    const methods = await bufCurl(t.address, "--list-methods", "");
    expect(methods).toContain("protobus.v1.EventBus/Subscribe");
    expect(methods).toContain("protobus.v1.EventBus/QueryEvents");
  });

  it("calls Health/Check and EventBus/Publish with buf curl through reflection alone", async () => {
    const health = JSON.parse(await bufCurl(t.address, "-d", "{}", "/grpc.health.v1.Health/Check")) as { status: string };
    expect(health.status).toBe("SERVING");
    const body = JSON.stringify({ events: [{ source: "buf-curl", type: "tool.curl.sent", data: Buffer.from("hi").toString("base64") }] });
    const published = JSON.parse(await bufCurl(t.address, "-d", body, "/protobus.v1.EventBus/Publish")) as {
      results: Array<{ id: string; sequence: string }>;
    };
    expect(published.results).toHaveLength(1);
    const event = await t.client.getEvent(published.results[0]?.id ?? "");
    expect(event.source).toBe("buf-curl");
    expect(event.sequence.toString()).toBe(published.results[0]?.sequence);
  });

  it("reports field violations to buf curl", async () => {
    const error = await bufCurl(t.address, "-d", JSON.stringify({ events: [{ type: "x" }] }), "/protobus.v1.EventBus/Publish").catch(
      (e: { stderr?: string; stdout?: string }) => `${e.stdout ?? ""}${e.stderr ?? ""}`,
    );
    expect(error).toContain("invalid_argument");
    expect(error).toContain("google.rpc.BadRequest");
  });
});
