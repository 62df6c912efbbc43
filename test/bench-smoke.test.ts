/**
 * The benchmark harness in its smoke mode: a few scenarios that together use
 * every role (protobus server, raw grpc-js server, nats-server, load
 * generator), every workload kind (rate, latency, memory), the registry,
 * tracing export and the JSON report, with tiny windows, one repeat and no
 * targets judged. It proves `npm run bench` still runs end to end; it
 * measures nothing worth reading.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { natsServerAvailable } from "./support/nats.js";
import { REPO_ROOT } from "./support/test-server.js";

const run = promisify(execFile);
const RUNNER = join(REPO_ROOT, "bench/run.mjs");

interface Summary {
  median: number;
  min: number;
  max: number;
}
interface ScenarioResult {
  name: string;
  kind: "rate" | "latency" | "memory";
  status: string;
  reason?: string;
  subject?: Summary & { measurements: Array<Record<string, unknown>> } & Record<string, Summary>;
  baseline?: Summary;
  ratio?: number;
  met?: boolean;
}

const NEEDS_NATS = ["group-sqlite", "jetstream-publish"];
const scenarios = ["unary-publish", "stream-100-sqlite", "validated-publish", "fanout-10", "e2e-latency", "e2e-latency-stream", "tracing", "stalled-subscriber", "large-request-flood", "index-keys-flood"];
if (natsServerAvailable()) scenarios.push(...NEEDS_NATS);

describe("npm run bench -- --smoke", () => {
  const out = mkdtempSync(join(tmpdir(), "protobus-bench-smoke-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("lists every scenario with a title", async () => {
    const { stdout } = await run(process.execPath, [RUNNER, "--list", "--no-build"], { cwd: REPO_ROOT });
    const names = stdout.trim().split("\n").map((line) => line.split(/\s+/)[0]);
    expect(names).toEqual(expect.arrayContaining([...scenarios, ...NEEDS_NATS, "stream-1-memory", "stream-100-memory", "fanout-1", "jetstream-group"]));
    expect(new Set(names).size).toBe(names.length);
  });

  it("runs scenarios of every kind end to end and reports them as a table and JSON", { timeout: 180_000 }, async () => {
    const { stdout } = await run(process.execPath, [RUNNER, "--smoke", "--no-build", "--out", out, ...scenarios], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 2 ** 20,
    });
    expect(stdout).toMatch(/scenario\s+result \(median \[min–max\]\)\s+baseline\s+baseline result\s+ratio\s+target\s+met\?/);
    const files = readdirSync(out).filter((f) => f.startsWith("run-") && f.endsWith(".json"));
    expect(files).toHaveLength(1);
    const report = JSON.parse(readFileSync(join(out, files[0] as string), "utf8")) as {
      machine: { cpus: number; node: string };
      settings: { smoke: boolean; repeats: number };
      scenarios: ScenarioResult[];
    };
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.version);
    expect(report.settings).toMatchObject({ smoke: true, repeats: 1 });
    expect(report.scenarios.map((s) => s.name).sort()).toEqual([...scenarios].sort());
    for (const s of report.scenarios) {
      expect({ name: s.name, status: s.status, reason: s.reason }).toEqual({ name: s.name, status: "measured", reason: undefined });
      expect(s.met, `${s.name}: smoke runs judge no target`).toBeUndefined();
      const subject = s.subject!;
      if (s.kind === "rate") {
        expect(subject.median, s.name).toBeGreaterThan(0);
        expect(s.baseline!.median, s.name).toBeGreaterThan(0);
        expect(s.ratio, s.name).toBeCloseTo(subject.median / s.baseline!.median, 6);
      } else if (s.kind === "latency") {
        for (const key of ["p50", "p99", "p999"]) expect(subject[key]!.median, `${s.name} ${key}`).toBeGreaterThan(0);
        expect(subject.p50!.median).toBeLessThanOrEqual(subject.p999!.median);
        // CPU per delivered event of the server and of the publisher with its receiver.
        const cpu = (subject.measurements[0] as { cpuMicrosPerUnit: { server?: number; loadgen?: number } }).cpuMicrosPerUnit;
        expect(Number.isFinite(cpu.server) && Number.isFinite(cpu.loadgen), `${s.name} CPU per event`).toBe(true);
        if (s.name === "index-keys-flood") {
          // The probe's round trips were timed while the publishes were stored, none failing, on both sides.
          for (const side of [subject, s.baseline as typeof subject]) {
            const { value } = side.measurements[0] as { value: { stored: number; failures: number; failedPublishes: number; samples: number } };
            expect(value.stored, `${s.name} stored`).toBeGreaterThan(0);
            expect(value.samples, `${s.name} probes`).toBeGreaterThan(0);
            expect([value.failures, value.failedPublishes]).toEqual([0, 0]);
          }
        }
      } else if (s.name === "large-request-flood") {
        // 2 connections × 2 publishes of 100 events: each stored or refused, none failed.
        const [m] = subject.measurements as unknown as [{ stored: number; refused: number; failed: number; peakRss: number }];
        expect(m.stored + m.refused).toBe(4);
        expect(m.failed).toBe(0);
        expect(m.peakRss).toBeGreaterThan(10 * 2 ** 20);
      } else {
        const [m] = subject.measurements;
        expect(m).toMatchObject({ published: 2000 });
        expect(subject.median).toBeGreaterThan(10 * 2 ** 20);
      }
    }
    const tracing = report.scenarios.find((s) => s.name === "tracing")!;
    expect(tracing.subject!.measurements[0]).toMatchObject({ otlpExports: { requests: expect.any(Number) } });
    expect((tracing.subject!.measurements[0] as { otlpExports: { requests: number } }).otlpExports.requests).toBeGreaterThan(0);
  });
});
