/**
 * A server that cannot start undoes what it opened: when the gRPC port or
 * the metrics port is taken, startServer rejects with UNAVAILABLE naming the
 * address, and the store is closed again (its lock released), so a second
 * start on the same data directory succeeds.
 */
import { createServer, type Server as NetServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ProtobusError } from "@protobus/sdk";
import { startServer } from "@protobus/server";
import { tempDir } from "../support/test-server.js";

function occupy(): Promise<{ server: NetServer; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 });
    });
  });
}

describe("a server that cannot start", () => {
  const dir = tempDir();
  let taken: { server: NetServer; port: number };
  beforeAll(async () => {
    taken = await occupy();
  });
  afterAll(() => {
    taken.server.close();
    dir.dispose();
  });

  const base = { host: "127.0.0.1", store: "sqlite" as const, dataDir: dir.path, logLevel: "silent" as const, shutdownGraceMs: 500 };

  it("rejects UNAVAILABLE when its port is taken and releases the store", async () => {
    const error = await startServer({ ...base, port: taken.port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtobusError);
    expect((error as ProtobusError).code).toBe(Code.UNAVAILABLE);
    expect((error as ProtobusError).message).toContain(`127.0.0.1:${taken.port}`);
  });

  it("rejects UNAVAILABLE when the metrics port is taken, stops listening and releases the store", async () => {
    const error = await startServer({ ...base, port: 0, metricsPort: taken.port }).catch((e: unknown) => e);
    expect((error as ProtobusError).code).toBe(Code.UNAVAILABLE);
    expect((error as ProtobusError).message).toContain("metrics");
    const server = await startServer({ ...base, port: 0 });
    await server.shutdown();
  });
});
