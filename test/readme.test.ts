/**
 * The README runs top to bottom. Its shell (`sh`) and TypeScript (`ts`)
 * blocks are run in order, as a reader would, in a project outside the
 * repository that installed the packed packages (test/support/user-project.ts),
 * against the one server the README starts. Blocks that cannot run here
 * are marked in the README; the markers are described at the top of
 * README.md (an HTML comment) and parsed by `readmeBlocks` below.
 *
 * The README's address 127.0.0.1:50051 is replaced by a free port (in the
 * text of every block, and as PROTOBUS_ADDRESS / PROTOBUS_PORT for the
 * shell), and `../protobus` next to the project is this repository.
 * TypeScript blocks are transpiled (with the code `buf generate` wrote) and
 * run with node in order; at the end the project's tsc type-checks them all
 * against the installed packages. README_TEST_TIMES=1 prints each block's
 * time.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/free-port.js";
import { REPO_ROOT, createClient } from "./support/test-server.js";
import { installedUserProject } from "./support/user-project.js";

const run = promisify(execFile);

/** One fenced block of the README with the markers before it. */
export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  /** `skip`, `background`, `fails` with their reasons; `file` with its path. */
  readonly markers: { readonly kind: string; readonly argument: string }[];
  /** Hidden code run before / after a TypeScript block (`before` / `after` markers). */
  readonly before: string;
  readonly after: string;
}

const MARKER = /<!--\s*readme-test:\s*(skip|background|fails|file|before|after)\b([\s\S]*?)-->/g;
const KINDS_WITH_REASON = new Set(["skip", "background", "fails"]);

/** Every fenced block of `markdown`, in order, with the `readme-test` markers just before it. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  const lines = markdown.split("\n");
  let pending = "";
  let inComment = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    // Comments just before a block (blank lines between are fine) hold its markers.
    if (inComment) {
      pending += `${line}\n`;
      if (line.includes("-->")) inComment = false;
      continue;
    }
    if (line.trimStart().startsWith("<!--")) {
      pending += `${line}\n`;
      inComment = !line.includes("-->");
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence === null) {
      if (line.trim() !== "") pending = "";
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    const markers: ReadmeBlock["markers"] = [];
    let before = "";
    let after = "";
    for (const match of pending.matchAll(MARKER)) {
      const kind = match[1] as string;
      const text = (match[2] ?? "").trim();
      if (kind === "before") before += `${text}\n`;
      else if (kind === "after") after += `${text}\n`;
      else {
        if (KINDS_WITH_REASON.has(kind) && !/^\(.+\)$/s.test(text)) throw new Error(`README.md:${start + 1}: "readme-test: ${kind}" needs a (reason)`);
        markers.push({ kind, argument: text });
      }
    }
    blocks.push({ line: start + 1, lang: fence[1] ?? "", code: `${body.join("\n")}\n`, markers, before, after });
    pending = "";
  }
  return blocks;
}

/**
 * `npx <bin>` runs the project's own bin directly (npx itself takes most of
 * a second to start; test/packages.test.ts runs the real npx).
 */
const NPX_SHORTCUT = `npx() { if [ -x "node_modules/.bin/$1" ]; then local bin="node_modules/.bin/$1"; shift; "$bin" "$@"; else command npx "$@"; fi; }\n`;

const has = (block: ReadmeBlock, kind: string) => block.markers.some((m) => m.kind === kind);
const fileOf = (block: ReadmeBlock) => block.markers.find((m) => m.kind === "file")?.argument;

describe("README.md, top to bottom", () => {
  const blocks = readmeBlocks(readFileSync(join(REPO_ROOT, "README.md"), "utf8"));
  let home: string;
  let app: string;
  let port = 0;
  let env: NodeJS.ProcessEnv;
  const background: { block: ReadmeBlock; child: ChildProcess; output: () => string }[] = [];

  beforeAll(async () => {
    const project = await installedUserProject();
    // my-app next to ../protobus, as the README's install section lays them out.
    home = mkdtempSync(join(tmpdir(), "protobus-readme-"));
    app = join(home, "my-app");
    mkdirSync(app);
    symlinkSync(REPO_ROOT, join(home, "protobus"), "dir");
    symlinkSync(join(project.dir, "node_modules"), join(app, "node_modules"), "dir");
    writeFileSync(join(app, "package.json"), readFileSync(join(project.dir, "package.json")));
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
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
      }),
    );
    port = await freePort();
    env = {
      ...process.env,
      PROTOBUS_ADDRESS: `127.0.0.1:${port}`,
      PROTOBUS_PORT: String(port),
      PROTOBUS_HOST: "127.0.0.1",
      PROTOBUS_LOG_LEVEL: "warn",
    };
    delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  }, 120_000);

  afterAll(async () => {
    for (const { child } of background.reverse()) {
      if (child.pid === undefined || child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(-child.pid, "SIGTERM");
      await exited;
    }
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  const localize = (text: string) => text.replaceAll("127.0.0.1:50051", `127.0.0.1:${port}`).replaceAll("localhost:50051", `127.0.0.1:${port}`);

  async function runShell(block: ReadmeBlock): Promise<void> {
    const script = `set -e -o pipefail\n${NPX_SHORTCUT}${localize(block.code)}`;
    const where = `README.md:${block.line}`;
    if (has(block, "background")) {
      let output = "";
      const child = spawn("bash", ["-c", script], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
      child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
      background.push({ block, child, output: () => output });
      if (/protobus serve/.test(block.code)) await serverUp(child, () => output, where);
      return;
    }
    const result = await runInGroup(script, 60_000);
    const report = `--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}\n--- block\n${block.code}`;
    if (result.timedOut) throw new Error(`${where} did not finish within 60 s (a command that runs until stopped needs a background marker)\n${report}`);
    if (has(block, "fails")) {
      if (result.code === 0) throw new Error(`${where} is marked "fails" but exited 0\n${report}`);
      return;
    }
    if (result.code !== 0) throw new Error(`${where} failed with exit code ${result.code}\n${report}`);
  }

  /** Runs a shell script in a process group of its own, all of which is killed when it overruns. */
  function runInGroup(script: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      const child = spawn("bash", ["-c", script], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      }, timeoutMs);
      child.once("exit", () => {
        clearTimeout(timer);
        // Whatever the block left behind in its group goes with it (and lets its output close).
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // The group is gone already.
        }
      });
      child.once("close", (code) => resolve({ code, stdout, stderr, timedOut }));
    });
  }

  async function serverUp(child: ChildProcess, output: () => string, where: string): Promise<void> {
    const client = createClient({ address: `127.0.0.1:${port}` });
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`${where}: the server exited:\n${output()}`);
        try {
          await client.info();
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`${where}: the server did not answer within 20 s:\n${output()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      await client.close();
    }
  }

  /** Transpiles every .ts file under src/ that changed to dist/ (type checking is done once, at the end). */
  function transpileSources(dir = join(app, "src")): void {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        transpileSources(path);
        continue;
      }
      if (!entry.name.endsWith(".ts")) continue;
      const out = join(app, "dist", relative(join(app, "src"), path)).replace(/\.ts$/, ".js");
      if (existsSync(out) && statSync(out).mtimeMs >= statSync(path).mtimeMs) continue;
      const { outputText } = ts.transpileModule(readFileSync(path, "utf8"), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
        fileName: path,
      });
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, outputText);
    }
  }

  /** Runs one TypeScript block: written to src/readme-NN.ts, transpiled with src/gen, run with node. */
  async function runTypeScript(block: ReadmeBlock, name: string): Promise<void> {
    const where = `README.md:${block.line}`;
    writeFileSync(join(app, "src", `${name}.ts`), `// ${where}\n${localize(block.before)}${localize(block.code)}${localize(block.after)}export {};\n`);
    transpileSources();
    try {
      await run(process.execPath, [join("dist", `${name}.js`)], { cwd: app, env, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const e = error as { message: string; stdout?: string; stderr?: string };
      throw new Error(`${where} failed: ${e.message}\n--- stdout\n${e.stdout ?? ""}\n--- stderr\n${e.stderr ?? ""}`);
    }
  }

  it("has markers only of the known kinds, each skip/background/fails with a reason", () => {
    expect(blocks.length).toBeGreaterThan(10);
    const runnable = blocks.filter((b) => ["sh", "ts"].includes(b.lang) && !has(b, "skip"));
    expect(runnable.length).toBeGreaterThan(10);
  });

  it("runs every shell and TypeScript block in order against one server", async () => {
    mkdirSync(join(app, "src"), { recursive: true });
    let index = 0;
    const typescriptBlocks = new Map<string, ReadmeBlock>();
    for (const block of blocks) {
      if (has(block, "skip")) continue;
      const file = fileOf(block);
      if (file !== undefined) {
        mkdirSync(dirname(join(app, file)), { recursive: true });
        writeFileSync(join(app, file), localize(block.code));
        continue;
      }
      const t0 = Date.now();
      if (block.lang === "sh") await runShell(block);
      else if (block.lang === "ts") {
        const name = `readme-${String(index++).padStart(2, "0")}`;
        typescriptBlocks.set(name, block);
        await runTypeScript(block, name);
      }
      if (process.env.README_TEST_TIMES) console.log(`README.md:${block.line} ${block.lang} ${Date.now() - t0} ms`);
    }
    for (const { block, child, output } of background) {
      expect(child.exitCode, `README.md:${block.line} (background) ended early:\n${output()}`).toBeNull();
    }
    // Every TypeScript block type-checks against the installed packages (and the generated code).
    const checked = await run(join(app, "node_modules/.bin/tsc"), ["-p", ".", "--noEmit"], { cwd: app, timeout: 60_000 }).then(
      () => "",
      (error: { stdout?: string; message: string }) => error.stdout ?? error.message,
    );
    const located = checked.replace(/src\/(readme-\d+)\.ts\((\d+),/g, (_all, name: string, line: string) => {
      const block = typescriptBlocks.get(name);
      return `${name}.ts (the block at README.md:${block?.line ?? "?"}, line ${Number(line) - 1} with its before code)(`;
    });
    expect(located, "TypeScript blocks that do not type-check").toBe("");
  }, 240_000);
});
