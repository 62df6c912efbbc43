/**
 * protoc-gen-protobus run by the real `buf generate` on small modules:
 * nested and top-level annotated messages get definitions and one event map
 * per package; files without annotations get nothing; a malformed event
 * type, a priority out of range and one type claimed twice fail generation
 * with a message naming each message at fault.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, tempDir } from "../support/test-server.js";

const run = promisify(execFile);
const BUF = join(REPO_ROOT, "node_modules/.bin/buf");
const PLUGIN = join(REPO_ROOT, "sdk/bin/protoc-gen-protobus.js");

function module(dir: string, files: Record<string, string>): string {
  mkdirSync(join(dir, "protobus/v1"), { recursive: true });
  cpSync(join(REPO_ROOT, "proto/protobus/v1/options.proto"), join(dir, "protobus/v1/options.proto"));
  writeFileSync(join(dir, "buf.yaml"), "version: v2\n");
  writeFileSync(
    join(dir, "buf.gen.yaml"),
    `version: v2\nplugins:\n  - local: ["${process.execPath}", "${PLUGIN}"]\n    out: gen\n    opt: [target=ts, import_extension=js]\n`,
  );
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const generate = (dir: string) =>
  run(BUF, ["generate"], { cwd: dir }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );

describe("protoc-gen-protobus", () => {
  const dirs: { dispose(): void }[] = [];
  const fresh = () => {
    const d = tempDir("protobus-plugin-");
    dirs.push(d);
    return d.path;
  };
  afterAll(() => dirs.forEach((d) => d.dispose()));

  it("generates definitions for top-level and nested messages, one map per package, nothing for plain files", async () => {
    const dir = module(fresh(), {
      "shop/v1/order.proto": `syntax = "proto3";
package shop.v1;
import "protobus/v1/options.proto";
message OrderPlaced {
  option (protobus.v1.event) = {type: "shop.order.placed", priority: 0, ttl: {seconds: 1, nanos: 500000000}};
  string order_id = 1;
  message Line {
    option (protobus.v1.event) = {type: "shop.order.line_added"};
    string sku = 1;
  }
}
message NotAnEvent { string x = 1; }
`,
      "shop/v1/plain.proto": `syntax = "proto3";
package shop.v1;
message Money { int64 units = 1; }
`,
    });
    const result = await generate(dir);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const order = readFileSync(join(dir, "gen/shop/v1/order_protobus.ts"), "utf8");
    expect(order).toContain('export const OrderPlaced = defineEvent({\n  type: "shop.order.placed",\n  schema: OrderPlacedSchema,\n  defaults: { priority: 0, ttlMs: 1500 },\n});');
    expect(order).toContain('export const OrderPlaced_Line = defineEvent({\n  type: "shop.order.line_added",\n  schema: OrderPlaced_LineSchema,\n  defaults: {},\n});');
    expect(order).not.toContain("NotAnEvent");
    expect(order).toContain('from "./order_pb.js"');
    expect(existsSync(join(dir, "gen/shop/v1/plain_protobus.ts"))).toBe(false);
    const map = readFileSync(join(dir, "gen/shop/v1/events_protobus.ts"), "utf8");
    expect(map).toContain('export const shopV1Events = {\n  "shop.order.line_added": OrderPlaced_Line,\n  "shop.order.placed": OrderPlaced,\n} as const;');
    expect(map).toContain("export type ShopV1Events = typeof shopV1Events;");
  });

  it("fails on a malformed type, a priority out of range and a type claimed twice, naming each message", async () => {
    const dir = module(fresh(), {
      "bad/v1/bad.proto": `syntax = "proto3";
package bad.v1;
import "protobus/v1/options.proto";
message Upper { option (protobus.v1.event) = {type: "Bad.Type"}; }
message Loud { option (protobus.v1.event) = {type: "bad.loud", priority: 12}; }
message First { option (protobus.v1.event) = {type: "bad.same"}; }
message Second { option (protobus.v1.event) = {type: "bad.same"}; }
`,
    });
    const result = await generate(dir);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("bad.v1.Upper: (protobus.v1.event).type 'Bad.Type' must be lower-case dotted tokens");
    expect(result.stderr).toContain("bad.v1.Loud: (protobus.v1.event).priority 12 must be 0..9");
    expect(result.stderr).toContain("bad.v1.Second: event type 'bad.same' is already the type of bad.v1.First");
    expect(existsSync(join(dir, "gen"))).toBe(false);
  });
});
