/**
 * GetFlow and `protobus flow`: every event of a correlation id as a
 * causation tree with each consumer's outcome, for a flow with fan-out and a
 * retried delivery.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, type ProtobusError, type ReceivedEvent } from "@protobus/sdk";
import { OutcomeState, type ConsumerOutcome, type Flow, type FlowNode } from "@protobus/sdk/proto";
import { CLI, startTestServer, waitFor, type TestServer } from "../support/test-server.js";

const run = promisify(execFile);

describe("GetFlow", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ store: "sqlite" });
  });
  afterAll(() => t.close());

  const getFlow = (correlationId: string): Promise<Flow> => t.client.getFlow(correlationId);

  it("returns the causation tree with fan-out and each consumer's outcome: acked, retried, dead-lettered", async () => {
    const fulfilment = t.client.subscribe("shop.order.placed", async () => {
      await t.client.publish([
        { type: "shop.payment.requested", data: {} },
        { type: "shop.stock.reserved", data: {} },
      ]);
    });
    const flaky = t.client.subscribe("shop.order.placed", (event: ReceivedEvent) => {
      if (event.attempt === 1) throw new Error("first attempt fails");
    });
    const audit = t.client.subscribe("shop.>", () => undefined);
    // A consumer group that always fails: dead-lettered after its third delivery.
    const billing = t.client.subscribe(
      "shop.order.placed",
      () => {
        throw new Error("billing is down");
      },
      { group: "billing", maxDeliveries: 3, backoffMinMs: 10, backoffMaxMs: 20 },
    );
    const shipping = t.client.subscribe("shop.order.placed", () => undefined, { group: "shipping" });
    await Promise.all([fulfilment.opened(), flaky.opened(), audit.opened(), billing.opened(), shipping.opened()]);
    try {
      const placed = await t.client.publish({ type: "shop.order.placed", data: { orderId: "o-1" }, correlationId: "flow-shop-1" });
      const final = (o: ConsumerOutcome): boolean =>
        o.state === OutcomeState.OUTCOME_STATE_ACKED || o.state === OutcomeState.OUTCOME_STATE_DEAD_LETTERED;
      const settled = (node: FlowNode | undefined, n: number): boolean => node !== undefined && node.outcomes.length === n && node.outcomes.every(final);
      let flow: Flow | undefined;
      await waitFor(async () => {
        flow = await getFlow("flow-shop-1");
        const root = flow.roots[0];
        return flow.eventCount === 3 && settled(root, 5) && root?.children.length === 2 && root.children.every((c) => settled(c, 1));
      }, 15_000, "the flow to settle");
      const f = flow as Flow;
      expect(f.correlationId).toBe("flow-shop-1");
      expect(f.truncated).toBe(false);
      expect(f.roots).toHaveLength(1);
      const root = f.roots[0] as FlowNode;
      expect(root.event).toMatchObject({ id: placed.id, type: "shop.order.placed", source: "test", correlationId: "flow-shop-1" });
      expect(f.startTime).toEqual(root.event?.publishTime);
      expect(root.children.map((c) => c.event?.type)).toEqual(["shop.payment.requested", "shop.stock.reserved"]);
      for (const child of root.children) {
        expect(child.event).toMatchObject({ causationId: placed.id, correlationId: "flow-shop-1" });
        expect(child.children).toEqual([]);
        expect(child.outcomes[0]).toMatchObject({ subscriptionId: audit.id, group: "", attempts: 1, retries: 0 });
      }
      const byGroup = new Map(root.outcomes.filter((o) => o.group !== "").map((o) => [o.group, o]));
      expect(byGroup.get("billing")).toMatchObject({ state: OutcomeState.OUTCOME_STATE_DEAD_LETTERED, attempts: 3, retries: 2 });
      expect(byGroup.get("shipping")).toMatchObject({ state: OutcomeState.OUTCOME_STATE_ACKED, attempts: 1, retries: 0, subscriptionId: shipping.id });
      const bySubscription = new Map(root.outcomes.filter((o) => o.group === "").map((o) => [o.subscriptionId, o]));
      expect(bySubscription.get(fulfilment.id)).toMatchObject({ state: OutcomeState.OUTCOME_STATE_ACKED, attempts: 1, retries: 0 });
      expect(bySubscription.get(audit.id)).toMatchObject({ state: OutcomeState.OUTCOME_STATE_ACKED, attempts: 1, retries: 0 });
      const retried = bySubscription.get(flaky.id);
      expect(retried).toMatchObject({ state: OutcomeState.OUTCOME_STATE_ACKED, attempts: 2, retries: 1 });
      expect((retried?.updateTime?.getTime() ?? 0) >= (retried?.firstDeliveryTime?.getTime() ?? Infinity)).toBe(true);

      // The CLI prints the same tree.
      const { stdout } = await run(process.execPath, [CLI, "flow", "flow-shop-1", "--address", t.address]);
      const lines = stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^flow flow-shop-1: 3 events over \d+ ms, from \S+Z$/);
      expect(lines[1]).toMatch(new RegExp(`^└─ \\+0 ms shop\\.order\\.placed source=test id=${placed.id} #\\d+$`));
      expect(stdout).toContain(`subscription ${flaky.id.slice(0, 8)}: acked after 2 attempts (retried 1x)`);
      expect(stdout).toContain("group billing: dead-lettered after 3 attempts (retried 2x)");
      expect(stdout).toContain("group shipping: acked");
      expect(stdout).toMatch(/ {3}├─ \+\d+ ms shop\.payment\.requested source=test id=\S+ #\d+\n/);
      expect(stdout).toMatch(/ {3}└─ \+\d+ ms shop\.stock\.reserved source=test id=\S+ #\d+\n/);
      const json = JSON.parse((await run(process.execPath, [CLI, "flow", "flow-shop-1", "--json", "--address", t.address])).stdout) as {
        eventCount: number;
        roots: { event: { id: string }; outcomes: { state: string; attempts: number }[]; children: unknown[] }[];
      };
      expect(json.eventCount).toBe(3);
      expect(json.roots[0]?.event.id).toBe(placed.id);
      expect(json.roots[0]?.outcomes.map((o) => `${o.state}/${o.attempts}`).sort()).toEqual(["acked/1", "acked/1", "acked/1", "acked/2", "dead-lettered/3"]);
      // The dead letter is in the group's queue too.
      const dead = await t.client.listDeadLetters("billing");
      expect(dead.deadLetters.map((d) => d.event?.id)).toEqual([placed.id]);
      expect(json.roots[0]?.children).toHaveLength(2);
    } finally {
      fulfilment.close();
      flaky.close();
      audit.close();
      billing.close();
      shipping.close();
    }
  });

  it("answers NOT_FOUND for an unknown flow and INVALID_ARGUMENT without an id", async () => {
    await expect(getFlow("no-such-flow")).rejects.toMatchObject({ code: Code.NOT_FOUND });
    const error = (await getFlow("").catch((e: unknown) => e)) as ProtobusError;
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.fieldViolations[0]?.field).toBe("correlation_id");
    const cli = await run(process.execPath, [CLI, "flow", "no-such-flow", "--address", t.address]).catch((e: { code: number; stderr: string }) => e);
    expect(cli).toMatchObject({ code: 1 });
    expect((cli as { stderr: string }).stderr).toContain("flow 'no-such-flow' not found");
  });
});
