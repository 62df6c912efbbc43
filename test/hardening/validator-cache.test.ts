/**
 * Issue row 7: 6,000 CheckCompatibility calls grew the server from 87 to
 * 641 MB, linearly, because every compiled schema stayed in ajv's cache.
 * Now a dry run keeps nothing: ajv's cache does not hold what it compiled,
 * the ajv instance that compiles is replaced after a bounded amount of
 * compiling, and compiled versions of stored schemas sit in an LRU bounded
 * in bytes.
 *
 * The budget: the server runs with a 160 MB old generation, so a leak of the
 * old size (about 90 KB per call, 500 MB over the measured calls) would end
 * it with "heap out of memory", and its resident memory may grow by at most
 * 64 MB from after the first 500 calls (the warm-up that fills the caches
 * and the young generation) to after the last: room for one ajv instance's
 * worth of compiled schemas (200 dry runs) and garbage not yet collected,
 * an eighth of what the leak took.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient, type RegistryClient } from "@protobus/sdk";
import { rssBytes, startHardeningServer, type HardeningServer } from "./support.js";

const MB = 1024 * 1024;
const CALLS = 6000;
const WARM_UP = 500;
const CONCURRENCY = 16;

/** A distinct schema per call: new property names, patterns and bounds. */
function schema(i: number): Record<string, unknown> {
  const properties: Record<string, unknown> = { id: { type: "string" } };
  for (let k = 0; k < 8; k++) properties[`field_${i}_${k}`] = { type: "string", pattern: `^x${i}-${k}[a-z]*$`, maxLength: 10 + k };
  return { type: "object", properties, required: ["id"], additionalProperties: true };
}

describe("dry-run compatibility checks keep nothing", () => {
  let server: HardeningServer;
  let registry: RegistryClient;
  beforeAll(async () => {
    server = await startHardeningServer([], { NODE_OPTIONS: "--max-old-space-size=160" });
    registry = createRegistryClient({ address: server.address });
    await registry.register("hard.cache.checked", { jsonSchema: { type: "object", properties: { id: { type: "string" } } } });
  });
  afterAll(async () => {
    registry.close();
    await server.close();
  });

  it("row 7: 6,000 CheckCompatibility calls leave the server's memory flat", async () => {
    let next = 0;
    let warm = 0;
    const check = async (): Promise<void> => {
      while (next < CALLS) {
        const i = next++;
        // Half against a subject with a version (a real comparison), half against new subjects.
        const report = await registry.check(i % 2 === 0 ? "hard.cache.checked" : `hard.cache.s${i}`, { jsonSchema: schema(i) });
        expect(report.mode).toBe("BACKWARD");
        if (i === WARM_UP) warm = rssBytes(server.process.pid as number);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, check));
    const end = rssBytes(server.process.pid as number);
    expect(server.process.exitCode).toBeNull();
    const grown = end - warm;
    expect(grown, `RSS ${(warm / MB).toFixed(0)} MB after ${WARM_UP} calls, ${(end / MB).toFixed(0)} MB after ${CALLS}`).toBeLessThan(64 * MB);
    // About 20 s on an idle 2-core machine; the limit leaves room for a busy one.
  }, 180_000);
});
