/**
 * `require-schemas` from every configuration source: the bare
 * `--require-schemas` flag on a real `protobus serve`, the environment
 * variable, protobus.yaml, and a clear error for a bad value.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Code, ProtobusError, createClient } from "@protobus/sdk";
import { loadConfig } from "@protobus/server";
import { spawnServer, tempDir } from "../support/test-server.js";

describe("require-schemas configuration", () => {
  it("is off by default and read from flags, PROTOBUS_REQUIRE_SCHEMAS and protobus.yaml", () => {
    const dir = tempDir();
    try {
      expect(loadConfig({ env: {}, cwd: dir.path }).requireSchemas).toBe(false);
      expect(loadConfig({ env: { PROTOBUS_REQUIRE_SCHEMAS: "true" }, cwd: dir.path }).requireSchemas).toBe(true);
      expect(loadConfig({ env: { PROTOBUS_REQUIRE_SCHEMAS: "true" }, flags: { "require-schemas": "false" }, cwd: dir.path }).requireSchemas).toBe(false);
      writeFileSync(join(dir.path, "protobus.yaml"), "require-schemas: true\n");
      expect(loadConfig({ env: {}, cwd: dir.path }).requireSchemas).toBe(true);
      expect(() => loadConfig({ env: { PROTOBUS_REQUIRE_SCHEMAS: "maybe" }, cwd: dir.path })).toThrow(
        "PROTOBUS_REQUIRE_SCHEMAS: expected true or false, got 'maybe'",
      );
    } finally {
      dir.dispose();
    }
  });

  it("`protobus serve --require-schemas` (no value) rejects unregistered types", async () => {
    const dir = tempDir();
    const server = await spawnServer(["--require-schemas", "--data-dir", dir.path]);
    const client = createClient({ address: server.address });
    try {
      const error = await client.publish({ type: "cfg.task.created", data: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProtobusError);
      expect((error as ProtobusError).code).toBe(Code.FAILED_PRECONDITION);
      expect((error as ProtobusError).preconditionViolations[0]?.type).toBe("SCHEMA_REQUIRED");
    } finally {
      await client.close();
      await server.stop();
      dir.dispose();
    }
  });
});
