/**
 * The benchmark's result table: `npm run bench -- --table <results.json>`
 * prints the table of a saved run, with each side's median CPU time per
 * unit of work (server / load generator), and refuses a file that holds no
 * run.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/test-server.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "protobus-bench-table-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const measurement = (value: number, server: number, loadgen: number) => ({ value, cpuMicrosPerUnit: { server, loadgen } });
const side = (label: string, values: Array<[number, number, number]>) => {
  const rates = values.map(([v]) => v).sort((a, b) => a - b);
  return { label, median: rates[1], min: rates[0], max: rates[2], measurements: values.map(([v, s, l]) => measurement(v, s, l)) };
};

describe("the bench result table", () => {
  it("prints a saved run with the CPU per event of server and load generator on each side", async () => {
    const file = join(dir, "run.json");
    writeFileSync(
      file,
      JSON.stringify({
        scenarios: [
          {
            name: "stream-100-memory",
            kind: "rate",
            unit: "events/s",
            status: "measured",
            target: "≥0.6x",
            subject: side("protobus", [
              [90_000, 8.0, 6.0],
              [95_000, 7.0, 6.5],
              [92_000, 9.0, 7.0],
            ]),
            baseline: side("raw grpc-js client stream 100/msg", [
              [120_000, 4.0, 6.0],
              [125_000, 3.5, 6.2],
              [130_000, 3.0, 5.8],
            ]),
            ratio: 0.74,
            met: true,
          },
          { name: "stalled-subscriber", kind: "memory", status: "failed", target: "RSS <200 MB", reason: "the server exited\nstack" },
        ],
      }),
    );
    const { stdout } = await run(process.execPath, [join(REPO_ROOT, "bench", "run.mjs"), "--table", file]);
    const header = stdout.split("\n").find((line) => line.startsWith("scenario"));
    expect(header).toContain("CPU µs/unit server/loadgen: subject | baseline");
    const row = stdout.split("\n").find((line) => line.startsWith("stream-100-memory"));
    expect(row).toContain("92k events/s [90k–95k]");
    expect(row).toContain("0.74x");
    expect(row).toContain("met");
    // Medians of each column: server 8.0, load generator 6.5 | 3.5, 6.0.
    expect(row).toMatch(/8\.0\/6\.5 \| 3\.5\/6\.0$/);
    expect(stdout).toContain("stalled-subscriber: failed (the server exited)");
  });

  it("refuses a file that is not the results of a run", async () => {
    const file = join(dir, "other.json");
    writeFileSync(file, JSON.stringify({ name: "not a run" }));
    const failure = await run(process.execPath, [join(REPO_ROOT, "bench", "run.mjs"), "--table", file]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain("not the results of a bench run");
  });
});
