/**
 * Interoperability with a client that has only the .proto files: publish and
 * subscribe round trip, and rich error details readable with nothing but
 * google/rpc/status.proto.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientDuplexStream, ServiceError } from "@grpc/grpc-js";
import * as protobuf from "protobufjs";
import { join } from "node:path";
import { startTestServer, REPO_ROOT, type TestServer } from "./support/test-server.js";
import { plainEventBus, plainUnary } from "./support/plain-client.js";

interface PlainEvent {
  id: string;
  type: string;
  source: string;
  sequence: string;
  data: Buffer;
  correlation_id: string;
  tags: string[];
}

describe("a plain grpc-js client built from the .proto files", () => {
  let t: TestServer;
  let client: ReturnType<typeof plainEventBus>;
  beforeAll(async () => {
    t = await startTestServer();
    client = plainEventBus(t.address);
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  it("publishes, and an SDK subscriber and a plain subscriber both receive it", async () => {
    const sdkSub = t.client.subscribe("demo.>");
    await sdkSub.opened();
    const stream = (client.Subscribe as () => ClientDuplexStream<unknown, Record<string, unknown>>)();
    const plainReceived: PlainEvent[] = [];
    const opened = new Promise<void>((resolve) => {
      stream.on("data", (response: Record<string, unknown>) => {
        if (response.response === "opened") resolve();
        if (response.response === "delivery") {
          const delivery = response.delivery as { event: PlainEvent; delivery_id: string; attempt: number };
          plainReceived.push(delivery.event);
          stream.write({ ack: { delivery_ids: [delivery.delivery_id] } });
        }
      });
    });
    stream.on("error", () => undefined);
    stream.write({ open: { patterns: ["demo.*.created"], start: { earliest: {} } } });
    await opened;

    const response = await plainUnary<{ results: Array<{ id: string; sequence: string; duplicate: boolean }> }>(client, "Publish", {
      events: [
        { source: "plain", type: "demo.order.created", data: Buffer.from('{"n":1}'), data_content_type: "application/json", correlation_id: "c-9", tags: ["t"] },
      ],
    });
    expect(response.results).toHaveLength(1);
    expect(response.results[0]?.duplicate).toBe(false);

    for await (const event of sdkSub) {
      expect(event.id).toBe(response.results[0]?.id);
      expect(event.source).toBe("plain");
      expect(event.correlationId).toBe("c-9");
      expect(event.json()).toEqual({ n: 1 });
      break;
    }
    await expect.poll(() => plainReceived.length).toBe(1);
    expect(plainReceived[0]?.sequence).toBe(response.results[0]?.sequence);
    expect(plainReceived[0]?.type).toBe("demo.order.created");
    expect(plainReceived[0]?.tags).toEqual(["t"]);
    stream.cancel();
  });

  it("reads the SDK's events through QueryEvents and GetEvent", async () => {
    const published = await t.client.publish({ type: "demo.sdk.sent", data: { from: "sdk" }, correlationId: "c-10" });
    const page = await plainUnary<{ events: PlainEvent[]; next_page_token: string }>(client, "QueryEvents", { correlation_id: "c-10" });
    expect(page.events.map((e) => e.id)).toEqual([published.id]);
    expect(JSON.parse(page.events[0]?.data.toString() ?? "null")).toEqual({ from: "sdk" });
    const one = await plainUnary<PlainEvent>(client, "GetEvent", { id: published.id });
    expect(one.sequence).toBe(published.sequence.toString());
  });

  it("sees INVALID_ARGUMENT with a google.rpc.BadRequest naming each bad field", async () => {
    const error = await plainUnary(client, "Publish", { events: [{ source: "", type: "NotAType", priority: 11 }] }).catch((e: unknown) => e as ServiceError);
    expect((error as ServiceError).code).toBe(3);
    const raw = (error as ServiceError).metadata.get("grpc-status-details-bin")[0];
    expect(Buffer.isBuffer(raw)).toBe(true);
    // Decode with nothing but the google.rpc protos.
    const root = await new protobuf.Root().load(
      [join(REPO_ROOT, "proto/google/rpc/status.proto"), join(REPO_ROOT, "proto/google/rpc/error_details.proto")],
      { keepCase: true },
    );
    const Status = root.lookupType("google.rpc.Status");
    const BadRequest = root.lookupType("google.rpc.BadRequest");
    const status = Status.decode(raw as Buffer) as unknown as { code: number; details: Array<{ type_url: string; value: Uint8Array }> };
    expect(status.code).toBe(3);
    const detail = status.details[0];
    expect(detail?.type_url).toBe("type.googleapis.com/google.rpc.BadRequest");
    const badRequest = BadRequest.decode(detail?.value ?? new Uint8Array()) as unknown as {
      field_violations: Array<{ field: string; description: string }>;
    };
    expect(badRequest.field_violations.map((v) => v.field).sort()).toEqual(["events[0].priority", "events[0].source", "events[0].type"]);
  });
});
