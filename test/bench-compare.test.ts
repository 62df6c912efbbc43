/**
 * The before/after mode of the benchmark harness (`npm run bench --
 * --compare <rev>`): its arguments, when this checkout's node_modules can
 * serve another revision, how a comparison is judged and printed, that a
 * process set up for another build imports that build's packages, and one
 * tiny end-to-end comparison of HEAD with this checkout.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/test-server.js";

const run = promisify(execFile);

interface Measurement {
  value: number | { p99: number };
  cpuMicrosPerUnit?: { server?: number | undefined };
  serverPackage?: string;
}
interface Comparison {
  ratio: number;
  worse: number;
  noise: number;
  flagged: boolean;
}
interface Judgement {
  score: string;
  figure: Comparison;
  cpu?: Comparison;
  verdict: string;
}
interface Lockfile {
  packages: Record<string, { version?: string; link?: boolean; resolved?: string }>;
}

// The harness is plain JavaScript; its modules are loaded by URL and typed here.
const lib = (name: string): string => pathToFileURL(join(REPO_ROOT, "bench/lib", name)).href;
const { parseBenchArgs } = (await import(lib("args.mjs"))) as {
  parseBenchArgs(args: string[]): { flags: Record<string, string | boolean | undefined>; positionals: string[] };
};
const { lockfileMismatches } = (await import(lib("other-build.mjs"))) as { lockfileMismatches(theirs: Lockfile, ours: Lockfile): string[] };
const report = (await import(lib("compare-report.mjs"))) as {
  WORSE_THRESHOLD: number;
  spread(values: number[]): number;
  judgeScenario(kind: string, before: Measurement[], after: Measurement[]): Judgement;
  formatCompareTable(results: unknown[], labels: { beforeLabel: string; afterLabel: string }): string;
  summarizeBuild(kind: string, measurements: Measurement[]): unknown;
};
const { causeOf } = (await import(lib("compare.mjs"))) as { causeOf(text: string): string };
const capabilities = (await import(lib("capabilities.mjs"))) as {
  missingCapabilities(names: string[]): Promise<string[]>;
  missingCapabilitiesOf(build: string, names: string[]): Promise<string[]>;
};

const rates = (values: number[], cpu: number[] = []): Measurement[] => values.map((value, i) => ({ value, cpuMicrosPerUnit: { server: cpu[i] } }));

describe("bench --compare arguments", () => {
  it("takes a revision, scenario names and the usual options", () => {
    const { flags, positionals } = parseBenchArgs(["--compare", "36caf5f^", "stream-100-memory", "fanout-10", "--repeats", "3"]);
    expect(flags).toMatchObject({ compare: "36caf5f^", repeats: "3", smoke: false, build: true });
    expect(positionals).toEqual(["stream-100-memory", "fanout-10"]);
    expect(parseBenchArgs(["stream-1-memory"]).flags.compare).toBeUndefined();
  });

  it("refuses a missing or empty revision and numbers that are not numbers", () => {
    expect(() => parseBenchArgs(["--compare"])).toThrow(/compare/);
    expect(() => parseBenchArgs(["--compare="])).toThrow(/needs a git revision/);
    expect(() => parseBenchArgs(["--compare", "main", "--repeats", "three"])).toThrow(/--repeats three: not a number/);
    expect(() => parseBenchArgs(["--frobnicate"])).toThrow(/frobnicate/);
  });

  it("applies the smoke settings with --compare too", () => {
    expect(parseBenchArgs(["--compare", "HEAD", "--smoke", "--repeats", "5"]).flags).toMatchObject({ compare: "HEAD", repeats: "1", window: "0.3" });
  });
});

describe("whether this checkout's node_modules serve another revision", () => {
  const ours: Lockfile = {
    packages: {
      "": {},
      sdk: { version: "0.1.0" },
      "node_modules/@protobus/sdk": { resolved: "sdk", link: true },
      "node_modules/@grpc/grpc-js": { version: "1.14.7" },
      "node_modules/pg": { version: "8.23.1" },
      "server/node_modules/ajv": { version: "8.17.1" },
    },
  };

  it("they do when every package it wants is installed at the same path and version", () => {
    const theirs: Lockfile = { packages: { "": {}, "node_modules/@grpc/grpc-js": { version: "1.14.7" }, "server/node_modules/ajv": { version: "8.17.1" } } };
    expect(lockfileMismatches(theirs, ours)).toEqual([]);
    const real = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as Lockfile;
    expect(lockfileMismatches(real, real)).toEqual([]);
  });

  it("they do not when a version differs, a package is missing or a nested one would shadow its resolution", () => {
    const theirs: Lockfile = {
      packages: {
        "node_modules/@protobus/sdk": { resolved: "sdk", link: true },
        "node_modules/@grpc/grpc-js": { version: "1.14.8" },
        "node_modules/tslib": { version: "2.9.1" },
      },
    };
    expect(lockfileMismatches(theirs, ours)).toEqual([
      "node_modules/@grpc/grpc-js: 1.14.8 wanted, 1.14.7 installed",
      "node_modules/tslib: 2.9.1 missing",
      "server/node_modules/ajv: installed, not wanted",
    ]);
  });
});

describe("judging a comparison", () => {
  it("measures spread as half the range over the median", () => {
    expect(report.spread([100])).toBe(0);
    expect(report.spread([90, 100, 110])).toBeCloseTo(0.1, 10);
  });

  it("flags a rate lower by more than 5% beyond the spread, and more server CPU per event", () => {
    const j = report.judgeScenario("rate", rates([100, 102, 98], [10, 10, 10]), rates([90, 91, 89], [12, 12.2, 11.8]));
    expect(j.figure.ratio).toBeCloseTo(0.9, 10);
    expect(j.figure.noise).toBeCloseTo(0.02, 10);
    expect(j.figure.flagged).toBe(true);
    expect(j.cpu?.ratio).toBeCloseTo(1.2, 10);
    expect(j.verdict).toBe("SLOWER, MORE CPU");
  });

  it("does not flag a loss within the run's own spread, nor a gain", () => {
    const noisy = report.judgeScenario("rate", rates([80, 100, 120]), rates([85, 90, 95]));
    expect(noisy.figure.worse).toBeCloseTo(0.1, 10);
    expect(noisy.figure.flagged).toBe(false);
    expect(noisy.cpu).toBeUndefined();
    expect(noisy.verdict).toBe("within spread");
    expect(report.judgeScenario("rate", rates([100, 100], [10, 10]), rates([96, 96], [10.4, 10.4])).verdict).toBe("ok");
    expect(report.judgeScenario("rate", rates([100, 100], [10, 10]), rates([150, 150], [7, 7])).verdict).toBe("ok");
  });

  it("counts a higher p99 as worse for latency scenarios", () => {
    const before: Measurement[] = [{ value: { p99: 2 } }, { value: { p99: 2 } }];
    const after: Measurement[] = [{ value: { p99: 3 } }, { value: { p99: 3 } }];
    expect(report.judgeScenario("latency", before, after)).toMatchObject({ score: "p99", verdict: "HIGHER p99" });
    expect(report.judgeScenario("latency", after, before).verdict).toBe("ok");
  });

  it("prints measured, unavailable and failed scenarios, with the disturbed ones marked", () => {
    const before = rates([100_000, 110_000, 90_000], [20, 21, 19]);
    const after = rates([80_000, 81_000, 79_000], [25, 25, 25]);
    const measured = {
      name: "stream-100-memory",
      kind: "rate",
      status: "measured",
      underLoad: true,
      before: report.summarizeBuild("rate", before),
      after: report.summarizeBuild("rate", after),
      judgement: report.judgeScenario("rate", before, after),
    };
    const table = report.formatCompareTable(
      [measured, { name: "console-slow-browser", kind: "rate", status: "cannot run on v1 (abc1234)", reason: "Error: unknown option consolePort\n  at x" }],
      { beforeLabel: "v1 (abc1234)", afterLabel: "this checkout (def5678)" },
    );
    expect(table).toMatch(/scenario\s+before: v1 \(abc1234\)\s+after: this checkout \(def5678\)\s+after\/before\s+server CPU µs\/event/);
    expect(table).toMatch(/stream-100-memory \*\s+100k \[90k–110k\]\s+80k \[79k–81k\]\s+0\.80x\s+20\.0 → 25\.0 \(1\.25x\)\s+rate ±10\.0%, CPU ±5\.0%\s+SLOWER, MORE CPU/);
    expect(table).toContain("console-slow-browser: cannot run on v1 (abc1234) (Error: unknown option consolePort)");
    expect(table).toContain("* measured while other work loaded the machine");
  });
});

describe("a scenario that cannot run on the other build", () => {
  it("is reported by the error that stopped it, not by the wrapper around it", () => {
    const died = [
      "Error: stream-100-memory-before-server exited before it was ready (1): file:///bench/lib/secure-setup.mjs:7",
      'import { createToken } from "@protobus/server";',
      "SyntaxError: The requested module '@protobus/server' does not provide an export named 'createToken'",
      "    at ModuleJob._instantiate (node:internal/modules/esm/module_job:213:21)",
    ].join("\n");
    expect(causeOf(died)).toBe("SyntaxError: The requested module '@protobus/server' does not provide an export named 'createToken'");
    expect(causeOf("Error: 12 UNIMPLEMENTED: GetFlow\n    at x")).toBe("Error: 12 UNIMPLEMENTED: GetFlow");
  });
});

describe("a process set up for another build", () => {
  // A stand-in build: a server package that serves no registry and has no JetStream store.
  const fake = mkdtempSync(join(tmpdir(), "protobus-bench-fake-build-"));
  afterAll(() => rmSync(fake, { recursive: true, force: true }));
  mkdirSync(join(fake, "node_modules/@protobus/server"), { recursive: true });
  writeFileSync(join(fake, "package.json"), "{}");
  writeFileSync(join(fake, "node_modules/@protobus/server/package.json"), JSON.stringify({ name: "@protobus/server", type: "module", exports: { ".": "./index.js" } }));
  writeFileSync(join(fake, "node_modules/@protobus/server/index.js"), 'export const STORE_KINDS = ["memory", "sqlite"];\nexport const SERVED_SERVICES = [];\n');

  it("imports that build's @protobus packages, while this process imports this checkout's", async () => {
    expect(await capabilities.missingCapabilitiesOf(fake, ["jetstream-store", "registry", "tracing"])).toEqual(["jetstream-store", "registry", "tracing"]);
    expect(await capabilities.missingCapabilities(["jetstream-store", "registry", "tracing"])).toEqual([]);
  });
});

describe("npm run bench -- --compare HEAD --smoke", () => {
  const out = mkdtempSync(join(tmpdir(), "protobus-bench-compare-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("builds HEAD apart, measures both builds in turn, reports them and removes the build", { timeout: 240_000 }, async () => {
    const { stdout, stderr } = await run(process.execPath, [join(REPO_ROOT, "bench/run.mjs"), "--compare", "HEAD", "--smoke", "--no-build", "--out", out, "unary-publish"], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 2 ** 20,
    });
    const buildDir = /preparing HEAD \(\w+\) in (\S+)/.exec(stderr)?.[1];
    expect(buildDir, stderr).toBeDefined();
    expect(stderr).toContain("dependencies: linked");
    expect(existsSync(buildDir!), "the temporary build is removed").toBe(false);
    expect(stdout).toMatch(/unary-publish\s+\S+\s+\S+\s+\d+\.\d\dx/);
    const files = readdirSync(out).filter((f) => f.startsWith("compare-") && f.endsWith(".json"));
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(out, files[0]!), "utf8")) as {
      compare: { rev: string; before: string; install: { mode: string } };
      scenarios: Array<{ name: string; status: string; before: { measurements: Measurement[] }; after: { measurements: Measurement[] }; judgement: Judgement }>;
    };
    expect(result.compare).toMatchObject({ rev: "HEAD", install: { mode: "linked" } });
    const [scenario] = result.scenarios;
    expect(scenario).toMatchObject({ name: "unary-publish", status: "measured" });
    // Each side ran the server of its own build.
    expect(scenario!.before.measurements[0]!.serverPackage?.startsWith(`${buildDir}/`)).toBe(true);
    expect(scenario!.after.measurements[0]!.serverPackage?.startsWith(join(REPO_ROOT, "server/"))).toBe(true);
    expect(scenario!.judgement.figure.ratio).toBeGreaterThan(0);
  });
});
