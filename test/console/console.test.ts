/**
 * The web console end to end: a real server with `consolePort`, real
 * Chromium driven by playwright-core, events published by the SDK. Every
 * view must show the server's real data; the page may reach nothing but the
 * console (requests elsewhere are blocked, recorded and asserted absent).
 * Screenshots of each view are written under test-results/console/.
 */
import { writeFileSync } from "node:fs";
import { request, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken, loadConfig } from "@protobus/server";
import { createClient, syncEventSchemas, createRegistryClient, type ProtobusClient } from "@protobus/sdk";
import { examplesAgentsV1Events, type ExamplesAgentsV1Events } from "../../examples/agents/src/gen/examples/agents/v1/events_protobus.js";
import { TaskPriority } from "../../examples/agents/src/gen/examples/agents/v1/common_pb.js";
import { TaskCreated } from "../../examples/agents/src/gen/examples/agents/v1/task_protobus.js";
import { makeServerPki } from "../support/certs.js";
import { chromiumAvailable, openBrowser, type OfflineBrowser } from "../support/chromium.js";
import { freePort, startTestServer, tempDir, waitFor, type TestServer } from "../support/test-server.js";

const JAEGER = "http://127.0.0.1:16686";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

describe.skipIf(!chromiumAvailable())("web console", () => {
  let t: TestServer;
  let typed: ProtobusClient<ExamplesAgentsV1Events>;
  let b: OfflineBrowser;
  let origin: string;

  beforeAll(async () => {
    t = await startTestServer({ consolePort: await freePort(), jaegerUrl: JAEGER });
    origin = t.server.consoleUrl ?? "";
    typed = createClient({ address: t.address, source: "console-test", events: examplesAgentsV1Events });
    const registry = createRegistryClient({ address: t.address });
    try {
      expect((await syncEventSchemas(registry, examplesAgentsV1Events)).ok).toBe(true);
    } finally {
      registry.close();
    }
    b = await openBrowser(origin);
  });
  afterAll(async () => {
    await b?.close();
    await typed?.close();
    await t?.close();
  });

  it("shows an event published by the SDK in the live view, payload decoded through its schema, with a trace link", async () => {
    const { page } = b;
    await page.goto(`${origin}live`);
    await page.getByTestId("live-state").filter({ hasText: "live" }).waitFor({ timeout: 10_000 });
    const publishedAt = Date.now();
    await typed.publish(
      TaskCreated,
      { taskId: "task-live-1", title: "watch me", priority: TaskPriority.HIGH, budgetMicros: 1_500n },
      { correlationId: "corr-live", subject: "planner-1", traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
    );
    const row = page.locator("table.events tbody tr", { hasText: "task-live-1" });
    await row.waitFor({ timeout: 5_000 });
    const latencyMs = Date.now() - publishedAt;
    // The target is 1 s; a shared, loaded machine gets some slack here.
    expect(latencyMs).toBeLessThan(5_000);
    await expect.poll(() => row.textContent()).toContain('"title":"watch me"');
    expect(await row.textContent()).toContain("agent.task.created");

    await row.click();
    const payload = page.getByTestId("payload");
    await expect.poll(() => payload.textContent()).toContain('"taskId": "task-live-1"');
    expect(await payload.textContent()).toContain('"budgetMicros": "1500"');
    expect(await page.locator("aside.detail").textContent()).toContain("decoded with agent.task.created v1 (examples.agents.v1.TaskCreated)");
    const link = page.locator("a.trace-link");
    expect(await link.getAttribute("href")).toBe(`${JAEGER}/trace/${TRACE_ID}`);
    expect(await page.locator("pre.envelope").textContent()).toContain('"correlationId": "corr-live"');
    await b.screenshot("live");
  });

  it("pauses the live view: events arriving while paused are counted, shown on resume", async () => {
    const { page } = b;
    await page.getByRole("button", { name: "Pause" }).click();
    await typed.publish(TaskCreated, { taskId: "task-paused", title: "held back", priority: TaskPriority.LOW, budgetMicros: 1n });
    await page.getByTestId("live-held").filter({ hasText: "paused: 1 new" }).waitFor({ timeout: 5_000 });
    expect(await page.locator("table.events tbody tr", { hasText: "task-paused" }).count()).toBe(0);
    await page.getByRole("button", { name: "Resume" }).click();
    await page.locator("table.events tbody tr", { hasText: "task-paused" }).waitFor({ timeout: 5_000 });
    expect(await page.getByTestId("live-dropped").textContent()).toBe("dropped 0");
  });

  it("applies a pattern and a filter to the live stream", async () => {
    const { page } = b;
    await page.locator('input[name="patterns"]').fill("agent.task.*");
    await page.locator('input[name="filter"]').fill('subject == "worker-7"');
    const generation = Number(await page.getByTestId("live-state").getAttribute("data-generation"));
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator(`[data-testid="live-state"][data-generation="${generation + 1}"]`, { hasText: "live" }).waitFor({ timeout: 10_000 });
    await typed.publish(TaskCreated, { taskId: "task-other-subject", title: "x", priority: TaskPriority.LOW, budgetMicros: 1n }, { subject: "worker-1" });
    await typed.publish(TaskCreated, { taskId: "task-filtered-in", title: "y", priority: TaskPriority.LOW, budgetMicros: 1n }, { subject: "worker-7" });
    await page.locator("table.events tbody tr", { hasText: "task-filtered-in" }).waitFor({ timeout: 5_000 });
    expect(await page.locator("table.events tbody tr").count()).toBe(1);

    await page.locator('input[name="filter"]').fill("subject ==");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("p.error").textContent()).toContain("filter");
  });

  it("pages through history with QueryEvents", async () => {
    const plain = createClient({ address: t.address, source: "history-test" });
    try {
      for (let i = 0; i < 60; i += 20) {
        await plain.publish(Array.from({ length: 20 }, (_, j) => ({ type: "demo.history.recorded", data: { n: i + j } })));
      }
    } finally {
      await plain.close();
    }
    const { page } = b;
    await page.getByRole("link", { name: "History" }).click();
    await page.getByRole("button", { name: "Search" }).waitFor();
    await page.locator('input[name="patterns"]').fill("demo.history.*");
    await page.getByRole("button", { name: "Search" }).click();
    const rows = page.locator("table.events tbody tr");
    // The table is replaced when the answer arrives: poll its text, never read it once.
    await expect.poll(async () => `${await rows.count()} ${await rows.first().textContent()}`).toMatch(/^50 .*\{"n":0\}/);
    await page.getByRole("button", { name: "Next →" }).click();
    await expect.poll(async () => `${await rows.count()} ${await rows.last().textContent()}`).toMatch(/^10 .*\{"n":59\}/);
    expect(await page.getByRole("button", { name: "Next →" }).isDisabled()).toBe(true);
    await b.screenshot("history");
  });

  it("shows a flow of three events as a causation tree with each consumer's outcome", async () => {
    const plain = createClient({ address: t.address, source: "flow-test" });
    const handled: string[] = [];
    const worker = plain.subscribe(
      "demo.flow.>",
      (event) => {
        handled.push(event.type);
        if (event.type === "demo.flow.failed") throw new Error("the printer is on fire");
      },
      { group: "flow-workers", maxDeliveries: 1, backoffMinMs: 10 },
    );
    try {
      await worker.opened();
      const root = await plain.publish({ type: "demo.flow.started", data: { step: 1 }, correlationId: "corr-flow" });
      const middle = await plain.publish({ type: "demo.flow.progressed", data: { step: 2 }, correlationId: "corr-flow", causationId: root.id });
      await plain.publish({ type: "demo.flow.failed", data: { step: 3 }, correlationId: "corr-flow", causationId: middle.id });
      await waitFor(() => handled.length >= 3, 10_000, "three deliveries");
      await waitFor(async () => (await plain.listDeadLetters("flow-workers")).deadLetters.length === 1, 10_000, "the dead letter");
    } finally {
      worker.close();
      await plain.close();
    }
    const { page } = b;
    await page.goto(`${origin}flows/corr-flow`);
    const tree = page.locator("ul.flow-tree");
    await tree.waitFor({ timeout: 10_000 });
    // Nested: started > progressed > failed.
    const nested = tree.locator("li li li .flow-node[data-type='demo.flow.failed']");
    await nested.waitFor({ timeout: 5_000 });
    await expect.poll(() => tree.locator(".flow-node[data-type='demo.flow.started'] .outcome").first().textContent()).toBe("flow-workers: acked");
    expect(await tree.locator(".flow-node[data-type='demo.flow.progressed'] .outcome").first().textContent()).toBe("flow-workers: acked");
    expect(await nested.locator(".outcome").first().textContent()).toBe("flow-workers: dead-lettered");
    expect(await page.locator(".panel h2").first().textContent()).toContain("3 events");
    await b.screenshot("flows");
  });

  it("redrives a dead letter from the groups view after a confirmation, and it is delivered again", async () => {
    const { page } = b;
    await page.goto(`${origin}groups/flow-workers`);
    const row = page.locator("table.dead-letters tbody tr", { hasText: "demo.flow.failed" });
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain("the printer is on fire");
    expect(await page.locator("table.groups tr[data-group='flow-workers']").textContent()).toContain("flow-workers");
    await b.screenshot("groups");

    // Cancel first: nothing happens.
    await row.getByRole("button", { name: "Redrive" }).click();
    const dialog = page.locator("dialog.confirm");
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("back into the group");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    const plain = createClient({ address: t.address, source: "redrive-test" });
    try {
      expect((await plain.listDeadLetters("flow-workers")).deadLetters).toHaveLength(1);
      const again: { type: string; attempt: number }[] = [];
      const worker = plain.subscribe(
        "demo.flow.>",
        (event) => {
          again.push({ type: event.type, attempt: event.attempt });
        },
        { group: "flow-workers" },
      );
      try {
        await worker.opened();
        await row.getByRole("button", { name: "Redrive" }).click();
        await dialog.getByRole("button", { name: "Redrive" }).click();
        await page.locator("p.notice", { hasText: "Redrove 1 dead letter." }).waitFor({ timeout: 5_000 });
        await waitFor(() => again.length === 1, 10_000, "the redriven delivery");
        expect(again[0]).toEqual({ type: "demo.flow.failed", attempt: 1 });
        await expect.poll(() => page.locator("table.dead-letters").count()).toBe(0);
      } finally {
        worker.close();
      }
    } finally {
      await plain.close();
    }
  });

  it("deletes a group after a confirmation", async () => {
    const { page } = b;
    await page.goto(`${origin}groups/flow-workers`);
    await page.getByRole("button", { name: "Delete group" }).click();
    const dialog = page.locator("dialog.confirm");
    expect(await dialog.textContent()).toContain("Delete group flow-workers");
    await dialog.getByRole("button", { name: "Delete" }).click();
    await expect.poll(() => page.locator("table.groups tr[data-group='flow-workers']").count()).toBe(0);
    const plain = createClient({ address: t.address, source: "groups-test" });
    try {
      expect((await plain.listGroups()).map((g) => g.name)).not.toContain("flow-workers");
    } finally {
      await plain.close();
    }
  });

  it("shows a schema's versions, a diff naming the added field, its compatibility mode, and checks a candidate", async () => {
    const registry = createRegistryClient({ address: t.address });
    try {
      const v1 = { type: "object", required: ["orderId"], properties: { orderId: { type: "string" } } };
      const v2 = { ...v1, properties: { ...v1.properties, giftNote: { type: "string", maxLength: 200 } } };
      await registry.register("demo.order.placed", { jsonSchema: v1 });
      await registry.register("demo.order.placed", { jsonSchema: v2 });
    } finally {
      registry.close();
    }
    const { page } = b;
    await page.goto(`${origin}schemas`);
    await page.getByRole("link", { name: "demo.order.placed" }).click();
    const diff = page.getByTestId("schema-diff");
    await diff.waitFor({ timeout: 10_000 });
    const added = await diff.locator("span.added").allTextContents();
    expect(added.join("")).toContain('+     "giftNote": {');
    expect((await diff.locator("span.removed").allTextContents()).join("")).not.toContain("orderId");
    expect(await page.getByTestId("compatibility").textContent()).toBe("BACKWARD");
    expect(await page.locator(".panel").first().textContent()).toContain("inherited from the global mode");
    await b.screenshot("schemas");

    await page.locator("textarea[name='candidate']").fill(JSON.stringify({ type: "object", required: ["orderId"], properties: { orderId: { type: "integer" } } }));
    await page.getByRole("button", { name: "Check" }).click();
    const result = page.getByTestId("check-result");
    await result.waitFor({ timeout: 5_000 });
    expect(await result.textContent()).toContain("Not compatible under BACKWARD");
    expect(await result.textContent()).toContain("orderId");
  });

  it("shows a Protobuf schema's definition in .proto syntax, with the enums it uses", async () => {
    const { page } = b;
    await page.goto(`${origin}schemas/agent.task.created`);
    const definition = page.locator("pre.definition");
    await definition.waitFor({ timeout: 10_000 });
    const text = (await definition.textContent()) ?? "";
    expect(text).toContain("message examples.agents.v1.TaskCreated {");
    expect(text).toContain("string task_id = 1;");
    expect(text).toMatch(/enum examples\.agents\.v1\.TaskPriority \{/);
    expect(await page.locator("table.versions tbody tr").count()).toBe(1);
    // A Protobuf subject's check form takes a descriptor set and a message name.
    expect(await page.locator("input[name='descriptorSet']").count()).toBe(1);
  });

  it("charts publish and delivery rates per type from the server's counters", async () => {
    const { page } = b;
    await page.goto(`${origin}overview`);
    const plain = createClient({ address: t.address, source: "overview-test" });
    try {
      // Three samples are two rates; keep publishing across them.
      for (let i = 0; i < 5; i++) {
        await plain.publish({ type: "demo.overview.ticked", data: { i } });
        await new Promise((r) => setTimeout(r, 700));
      }
    } finally {
      await plain.close();
    }
    await page.locator("table.type-stats tr[data-type='demo.overview.ticked']").waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator("table.type-stats tr[data-type='demo.overview.ticked'] td").nth(1).textContent(), { timeout: 10_000 }).toBe("5");
    await expect.poll(() => page.locator("[data-testid='chart-published'] .u-legend").textContent()).toContain("demo.overview.ticked");
    expect(await page.locator("[data-testid='chart-published'] canvas").count()).toBe(1);
    await b.screenshot("overview");
  });

  it("keeps a slow browser's stream bounded: publishing goes on, what it missed is counted as dropped", async () => {
    let text = "";
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(new URL("api/protobus.v1.EventBus/Subscribe", origin), { method: "POST", headers: { "content-type": "application/json" } });
      req.on("response", resolve).on("error", reject);
      req.end(JSON.stringify({ open: { patterns: ["demo.flood.*"] } }));
    });
    try {
      // This browser reads nothing for a while.
      response.pause();
      response.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      const plain = createClient({ address: t.address, source: "flood-test" });
      try {
        const data = { blob: "x".repeat(2048) };
        for (let i = 0; i < 10; i++) await plain.publish(Array.from({ length: 200 }, () => ({ type: "demo.flood.sent", data })));
      } finally {
        await plain.close();
      }
      // Past the console's lag limit (2 s): the stream must start again at the newest event.
      await new Promise((r) => setTimeout(r, 2_500));
      response.resume();
      const tally = () => {
        const statuses = [...text.matchAll(/event: status\ndata: (\{[^\n]*\})/g)].map((m) => JSON.parse(m[1] as string) as { delivered: number; dropped: number });
        const shown = [...text.matchAll(/event: events\ndata: (\[[^\n]*\])/g)].reduce((n, m) => n + (JSON.parse(m[1] as string) as unknown[]).length, 0);
        return { shown, dropped: statuses.at(-1)?.dropped ?? 0 };
      };
      // Everything is either shown or counted as dropped (the stream is read as it comes: poll it).
      await waitFor(() => tally().dropped > 0 && tally().shown + tally().dropped >= 2_000, 10_000, "every event shown or counted as dropped");
      const { shown } = tally();
      expect(shown).toBeLessThan(2_000);
    } finally {
      response.destroy();
    }
  });

  it("answers JSON API calls named after their RPC, and refuses foreign origins", async () => {
    const info = await fetch(`${origin}api/protobus.v1.EventBus/GetBusInfo`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ store: "sqlite", durable: true });
    const bad = await fetch(`${origin}api/protobus.v1.EventBus/QueryEvents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ patterns: ["Agent..x"] }),
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { code: string; details: { type: string; debug: { fieldViolations: { field: string }[] } }[] };
    expect(body.code).toBe("invalid_argument");
    expect(body.details[0]?.type).toBe("google.rpc.BadRequest");
    expect(body.details[0]?.debug.fieldViolations[0]?.field).toBe("patterns[0]");
    const unknown = await fetch(`${origin}api/protobus.v1.EventBus/NoSuchRpc`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(unknown.status).toBe(501);
    const foreign = await fetch(`${origin}api/protobus.v1.EventBus/GetBusInfo`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body: "{}",
    });
    expect(foreign.status).toBe(403);
    const notJson = await fetch(`${origin}api/protobus.v1.EventBus/GetBusInfo`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect(notJson.status).toBe(400);
  });

  it("loaded nothing from anywhere but the console", () => {
    expect(b.foreignRequests).toEqual([]);
  });
});

const POLICY = `
grants:
  - principals: [operator]
    publish: [">"]
    subscribe: [">"]
    groups:
      "*": [join, settings, delete, dead-letters]
    admin: [all]
  - principals: [viewer]
    subscribe: [">"]
    admin: [view]
`;

describe.skipIf(!chromiumAvailable())("web console with authentication", () => {
  let t: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let b: OfflineBrowser;
  let origin: string;
  const tokens = { operator: "", viewer: "" };

  beforeAll(async () => {
    dir = tempDir("protobus-console-auth-");
    const tokenFile = join(dir.path, "tokens.yaml");
    tokens.operator = createToken(tokenFile, { principal: "operator" }).token;
    tokens.viewer = createToken(tokenFile, { principal: "viewer" }).token;
    const policy = join(dir.path, "policy.yaml");
    writeFileSync(policy, POLICY);
    t = await startTestServer({ consolePort: await freePort(), tokenFile, policy });
    origin = t.server.consoleUrl ?? "";
    b = await openBrowser(origin);
  });
  afterAll(async () => {
    await b?.close();
    await t?.close();
    dir?.dispose();
  });

  const signIn = async (token: string, who: string): Promise<void> => {
    const { page } = b;
    await page.locator("input[name='token']").fill(token);
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: /Sign in|Change/ }).click()]);
    await page.getByTestId("principal").filter({ hasText: `signed in as ${who}` }).waitFor({ timeout: 10_000 });
  };

  it("uses the server's authentication: a read-only principal sees no redrive button and is refused by the API; an operator redrives", async () => {
    const operator = createClient({ address: t.address, source: "auth-test", token: tokens.operator });
    try {
      const worker = operator.subscribe(
        "demo.auth.>",
        () => {
          throw new Error("refused by the handler");
        },
        { group: "ops", maxDeliveries: 1, backoffMinMs: 10 },
      );
      await worker.opened();
      await operator.publish({ type: "demo.auth.checked", data: { ok: false } });
      await waitFor(async () => (await operator.listDeadLetters("ops")).deadLetters.length === 1, 10_000, "the dead letter");
      worker.close();
    } finally {
      await operator.close();
    }

    const { page } = b;
    await page.goto(`${origin}groups/ops`);
    await page.getByTestId("principal").filter({ hasText: "not signed in" }).waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator("p.error").first().textContent()).toContain("Sign in with a bearer token");

    await signIn(tokens.viewer, "viewer");
    await page.locator("table.groups tr[data-group='ops']").click();
    await expect.poll(() => page.locator(".panel p.error").first().textContent()).toContain("group.dead-letters");
    expect(await page.getByRole("button", { name: /Redrive|Purge|Delete/ }).count()).toBe(0);
    await b.screenshot("groups-read-only");

    const redrive = (token?: string) =>
      fetch(`${origin}api/protobus.v1.EventBus/RedriveDeadLetters`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ group: "ops", all: true }),
      });
    const asViewer = await redrive(tokens.viewer);
    expect(asViewer.status).toBe(403);
    expect(((await asViewer.json()) as { code: string }).code).toBe("permission_denied");
    expect((await redrive()).status).toBe(401);
    const session = await fetch(`${origin}session`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens.viewer}` },
      body: JSON.stringify({ checks: [{ permission: "group.dead-letters", resource: "ops" }, { permission: "group.view", resource: "ops" }] }),
    });
    expect(await session.json()).toEqual({ authEnabled: true, principal: "viewer", roles: [], allowed: [false, true] });

    await signIn(tokens.operator, "operator");
    const row = page.locator("table.dead-letters tbody tr", { hasText: "demo.auth.checked" });
    await row.waitFor({ timeout: 10_000 });
    await row.getByRole("button", { name: "Redrive" }).click();
    await page.locator("dialog.confirm").getByRole("button", { name: "Redrive" }).click();
    await page.locator("p.notice", { hasText: "Redrove 1 dead letter." }).waitFor({ timeout: 5_000 });
    expect(b.foreignRequests).toEqual([]);
  });
});

describe("web console with TLS", () => {
  let t: TestServer;
  let dir: ReturnType<typeof tempDir>;
  let ca: Buffer;

  beforeAll(async () => {
    dir = tempDir("protobus-console-tls-");
    const pki = makeServerPki(dir.path);
    ca = pki.ca.certPem;
    t = await startTestServer({ consolePort: await freePort(), tlsCert: pki.server.cert, tlsKey: pki.server.key });
  });
  afterAll(async () => {
    await t?.close();
    dir?.dispose();
  });

  const post = (path: string, body: unknown): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(path, t.server.consoleUrl), { method: "POST", ca, headers: { "content-type": "application/json" } }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString("utf8");
          // The live stream never ends by itself: its first message is enough.
          if (text.includes("event: opened")) res.destroy();
        });
        res.on("close", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });

  it("refuses to start a console with mutual TLS, saying why", async () => {
    const pki = makeServerPki(dir.path, "mutual-ca");
    const start = startTestServer({ consolePort: await freePort(), tlsCert: pki.server.cert, tlsKey: pki.server.key, tlsClientCa: pki.ca.cert, policy: "", dataDir: join(dir.path, "mutual-data") });
    await expect(start).rejects.toThrow(/cannot serve the console .*mutual TLS/);
  });

  it("reads --console-port and --jaeger-url, and refuses a Jaeger URL that is not http(s)", () => {
    const config = loadConfig({ flags: { "console-port": "8080", "jaeger-url": "http://127.0.0.1:16686/" }, env: {}, cwd: dir.path });
    expect(config.consolePort).toBe(8080);
    expect(config.jaegerUrl).toBe("http://127.0.0.1:16686");
    expect(() => loadConfig({ flags: { "jaeger-url": "javascript:alert(1)" }, env: {}, cwd: dir.path })).toThrow(/--jaeger-url: expected an http:\/\/ or https:\/\/ URL/);
    expect(loadConfig({ env: {}, cwd: dir.path }).consolePort).toBe(0);
  });

  it("serves the console over HTTPS with the server's certificate and reaches the gRPC listener over TLS", async () => {
    expect(t.server.consoleUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const info = await post("api/protobus.v1.EventBus/GetBusInfo", {});
    expect(info.status).toBe(200);
    expect(JSON.parse(info.text)).toMatchObject({ store: "sqlite" });
    const live = await post("api/protobus.v1.EventBus/Subscribe", { open: { patterns: [">"] } });
    expect(live.status).toBe(200);
    expect(live.text).toContain("event: opened");
  });
});
