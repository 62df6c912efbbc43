/**
 * protobus used from another project, as a user installs it: both packages
 * packed with `npm pack`, installed from the tarballs (offline, with
 * `--engine-strict`) into a project outside the repository, and run there:
 * `npx protobus serve`, a publish and a subscribe through the SDK, `npx buf
 * generate` with the README's buf.yaml and buf.gen.yaml, `npx protobus
 * schema sync`, and a typed publish compiled with tsc, validated by the
 * server against the synced schema.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/free-port.js";
import { REPO_ROOT } from "./support/test-server.js";
import { installedUserProject, projectCopy, type UserProject } from "./support/user-project.js";

const run = promisify(execFile);

/** The fenced block of the README whose first line is `# <name>`. */
function readmeFile(name: string): string {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  for (const match of readme.matchAll(/```\w*\n([\s\S]*?)```/g)) {
    const body = match[1] ?? "";
    if (body.startsWith(`# ${name}\n`)) return body;
  }
  throw new Error(`the README has no block that starts with "# ${name}"`);
}

const ORDER_PROTO = `syntax = "proto3";

package shop.v1;

import "protobus/v1/options.proto";

message OrderPlaced {
  option (protobus.v1.event) = {type: "shop.order.placed"};
  string order_id = 1;
  int64 total_cents = 2;
  repeated string items = 3;
}
`;

const APP = (address: string) => `import { Code, ProtobusError, createClient } from "@protobus/sdk";
import { shopV1Events } from "./gen/shop/v1/events_protobus.js";
import { OrderPlaced } from "./gen/shop/v1/order_protobus.js";

const client = createClient({ address: "${address}", source: "shop/checkout", events: shopV1Events });
const sub = client.subscribe("shop.order.placed", { from: "earliest" });
const published = await client.publish(OrderPlaced, { orderId: "o-1", totalCents: 1250n, items: ["book"] });
let received: unknown;
for await (const event of sub) {
  received = { type: event.type, orderId: event.payload.orderId, totalCents: String(event.payload.totalCents), items: event.payload.items };
  break;
}
// The server checks payloads against the synced schema.
let rejected = "";
try {
  await client.untyped.publish({ type: "shop.order.placed", data: { orderId: 7 } });
} catch (error) {
  if (error instanceof ProtobusError && error.code === Code.INVALID_ARGUMENT) rejected = error.fieldViolations.map((v) => v.field).join(",");
}
client.close();
console.log(JSON.stringify({ sequence: String(published.sequence), received, rejected }));
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    skipLibCheck: true,
    rootDir: "src",
    outDir: "dist",
    types: ["node"],
  },
  include: ["src"],
};

describe("the packages, installed into another project", () => {
  let project: UserProject;
  let app: { dir: string; dispose(): void };
  let server: ChildProcess | undefined;
  let serverOutput = "";
  let address = "";
  const npx = (args: string[], timeout = 30_000) =>
    run("npx", ["--no-install", ...args], { cwd: app.dir, timeout, env: { ...process.env, PROTOBUS_ADDRESS: address } });

  beforeAll(async () => {
    project = await installedUserProject();
    app = projectCopy(project);
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    // `npx protobus serve`, as the README says.
    server = spawn("npx", ["--no-install", "protobus", "serve", "--port", String(port)], {
      cwd: app.dir,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    server.stdout?.on("data", (c: Buffer) => (serverOutput += c.toString()));
    server.stderr?.on("data", (c: Buffer) => (serverOutput += c.toString()));
    const deadline = Date.now() + 20_000;
    while (!serverOutput.includes("protobus listening")) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`npx protobus serve did not start:\n${serverOutput}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 120_000);

  afterAll(async () => {
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.once("exit", resolve));
      // npx runs the bin in a child: signal the whole group it leads.
      process.kill(-server.pid, "SIGTERM");
      await exited;
    }
    app?.dispose();
  });

  it("installs with --engine-strict from the tarballs, with the protobus, buf and plugin bins", () => {
    const manifest = JSON.parse(readFileSync(join(project.dir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(manifest.dependencies["@protobus/server"]).toMatch(/^file:.*protobus-server-0\.1\.0\.tgz$/);
    expect(manifest.dependencies["@protobus/sdk"]).toMatch(/^file:.*protobus-sdk-0\.1\.0\.tgz$/);
    // The server's own dependency on the SDK resolved to the same tarball: one copy.
    expect(existsSync(join(project.dir, "node_modules/@protobus/server/node_modules/@protobus/sdk"))).toBe(false);
    for (const bin of ["protobus", "buf", "protoc-gen-es", "protoc-gen-protobus"]) {
      expect(existsSync(join(project.dir, "node_modules/.bin", bin)), bin).toBe(true);
    }
    expect(existsSync(join(project.dir, "node_modules/@protobus/sdk/proto/protobus/v1/options.proto"))).toBe(true);
    expect(serverOutput).toContain(`address=${address}`);
  });

  it("publishes and subscribes through the SDK", async () => {
    writeFileSync(
      join(app.dir, "pubsub.mjs"),
      `import { createClient } from "@protobus/sdk";
const client = createClient({ address: "${address}", source: "app" });
const sub = client.subscribe("app.note.*", { from: "earliest" });
await client.publish({ type: "app.note.created", data: { text: "hello" }, correlationId: "c-1" });
for await (const event of sub) { console.log(JSON.stringify({ type: event.type, data: event.json(), correlationId: event.correlationId })); break; }
client.close();
`,
    );
    const { stdout } = await run(process.execPath, ["pubsub.mjs"], { cwd: app.dir, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual({ type: "app.note.created", data: { text: "hello" }, correlationId: "c-1" });
  });

  it("generates typed code with the README's buf files, syncs the schemas and publishes typed events", async () => {
    writeFileSync(join(app.dir, "buf.yaml"), readmeFile("buf.yaml"));
    writeFileSync(join(app.dir, "buf.gen.yaml"), readmeFile("buf.gen.yaml"));
    writeFileSync(join(app.dir, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
    mkdirSync(join(app.dir, "proto/shop/v1"), { recursive: true });
    writeFileSync(join(app.dir, "proto/shop/v1/order.proto"), ORDER_PROTO);

    await npx(["buf", "generate"]);
    for (const file of ["shop/v1/order_pb.ts", "shop/v1/order_protobus.ts", "shop/v1/events_protobus.ts", "protobus/v1/options_pb.ts"]) {
      expect(existsSync(join(app.dir, "src/gen", file)), file).toBe(true);
    }

    const sync = await npx(["protobus", "schema", "sync"]);
    expect(sync.stdout).toContain("registered   shop.order.placed v1 (shop.v1.OrderPlaced)");
    expect(sync.stdout).toContain("1 event types: 1 registered, 0 unchanged");
    const again = await npx(["protobus", "schema", "sync"]);
    expect(again.stdout).toContain("1 event types: 0 registered, 1 unchanged");

    writeFileSync(join(app.dir, "src/app.ts"), APP(address));
    await npx(["tsc", "-p", "."], 60_000);
    const { stdout } = await run(process.execPath, ["dist/app.js"], { cwd: app.dir, timeout: 20_000 });
    const result = JSON.parse(stdout) as { received: unknown; rejected: string };
    expect(result.received).toEqual({ type: "shop.order.placed", orderId: "o-1", totalCents: "1250", items: ["book"] });
    expect(result.rejected).toBe("events[0].data.order_id");
  });
});
