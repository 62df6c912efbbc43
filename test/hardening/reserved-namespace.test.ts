/**
 * Issue row 16: `protobus.*` is the server's namespace. A caller publishing
 * `protobus.alert.*` (with any source), alone or inside a batch, over the
 * unary call or a publish stream, gets PERMISSION_DENIED with an ErrorInfo
 * RESERVED_NAMESPACE and nothing of the batch is stored; the server's own
 * alerts still go out under that namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient, ProtobusError, type ProtobusClient } from "@protobus/sdk";
import { rejection, startHardeningServer, type HardeningServer } from "./support.js";
import { waitFor } from "../support/test-server.js";

function expectReserved(error: unknown, field: string): void {
  expect(error).toBeInstanceOf(ProtobusError);
  const failure = error as ProtobusError;
  expect(failure.code, failure.message).toBe(Code.PERMISSION_DENIED);
  const info = failure.details.find((d) => d.type === "ErrorInfo");
  expect(info?.type === "ErrorInfo" ? info.value.reason : undefined).toBe("RESERVED_NAMESPACE");
  expect(info?.type === "ErrorInfo" ? info.value.metadata.field : undefined).toBe(field);
  expect(failure.message).toContain("only the server publishes");
}

describe("the reserved protobus.* namespace", () => {
  let server: HardeningServer;
  let client: ProtobusClient;
  let unbatched: ProtobusClient;
  beforeAll(async () => {
    // A flow with no terminal event alerts after 300 ms: the server's own protobus.alert.flow_slow.
    server = await startHardeningServer(["--flow-slow-after", "300ms"]);
    client = createClient({ address: server.address, source: "hardening" });
    unbatched = createClient({ address: server.address, source: "hardening", batching: false });
  });
  afterAll(async () => {
    await client.close();
    await unbatched.close();
    await server.close();
  });

  it("row 16: a caller cannot publish protobus.* types, with any source, alone or in a batch; nothing is stored", async () => {
    const alerts: string[] = [];
    const subscription = client.subscribe("protobus.>", (event) => {
      alerts.push(`${event.type} ${event.source}`);
    });
    await subscription.opened();
    const before = await unbatched.publish({ type: "hard.reserved.before" });
    expectReserved(await rejection(unbatched.publish({ type: "protobus.alert.flow_slow", source: "protobus/monitor" })), "events[0].type");
    expectReserved(await rejection(unbatched.publish([{ type: "hard.reserved.ok" }, { type: "protobus.audit.admin" }])), "events[1].type");
    // The SDK's default path rides the publish stream.
    expectReserved(await rejection(client.publish({ type: "protobus.anything.at_all" })), "events[0].type");
    const after = await unbatched.publish({ type: "hard.reserved.after" });
    expect(after.sequence).toBe(before.sequence + 1n);
    // The server's own alert still goes out: a flow that never ends.
    await unbatched.publish({ type: "hard.order.created", correlationId: "flow-reserved-1" });
    await waitFor(() => alerts.some((a) => a.startsWith("protobus.alert.flow_slow")), 10_000, "the server's flow_slow alert");
    subscription.close();
    expect(alerts.every((a) => !a.includes("hardening"))).toBe(true);
  });
});
