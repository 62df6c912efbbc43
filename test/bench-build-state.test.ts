/**
 * What a bench run says about the build it measures: with `--no-build`,
 * the projects whose dist/ is older than their sources (from a real
 * `tsc -b --dry`), so that a run cannot silently measure an earlier build
 * under the name of this commit.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error the bench is plain JavaScript without declarations
import { staleProjects } from "../bench/lib/build-state.mjs";
import { REPO_ROOT } from "./support/test-server.js";

const dir = mkdtempSync(join(tmpdir(), "protobus-bench-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tsc = (...args: string[]): string => execFileSync(join(REPO_ROOT, "node_modules", ".bin", "tsc"), args, { cwd: dir, encoding: "utf8" });
const stale = (): string[] => (staleProjects as (dryRun: string, root: string) => string[])(tsc("-b", "--dry", "lib"), dir);

describe("the bench's check of dist/", () => {
  it("names a project whose sources changed since its last build, and no other", () => {
    mkdirSync(join(dir, "lib", "src"), { recursive: true });
    writeFileSync(
      join(dir, "lib", "tsconfig.json"),
      JSON.stringify({ compilerOptions: { composite: true, rootDir: "src", outDir: "dist", module: "nodenext", target: "es2022" }, include: ["src"] }),
    );
    writeFileSync(join(dir, "lib", "src", "index.ts"), "export const answer = 41;\n");
    expect(stale()).toEqual([join("lib", "tsconfig.json")]);
    tsc("-b", "lib");
    expect(stale()).toEqual([]);
    appendFileSync(join(dir, "lib", "src", "index.ts"), "export const more = 1;\n");
    expect(stale()).toEqual([join("lib", "tsconfig.json")]);
    tsc("-b", "lib");
    expect(stale()).toEqual([]);
  });
});
