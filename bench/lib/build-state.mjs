// The build a run measures: the packages run from dist/, so the run
// compiles them first (`tsc -b`, a no-op when dist/ is current). With
// --no-build it only checks, and names the projects whose dist/ is older
// than their sources: such a run measures an earlier build (say, the
// checkout as a --compare built it before a change was undone) under the
// name of this commit.
import { execFileSync } from "node:child_process";
import { join, relative } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;
const TSC = join(ROOT, "node_modules", ".bin", "tsc");

/** Builds the packages (`build`), or lists the projects a build would compile again. */
export function prepareDist({ build }) {
  if (build) {
    execFileSync(TSC, ["-b"], { cwd: ROOT, stdio: "inherit" });
    return [];
  }
  return staleProjects(execFileSync(TSC, ["-b", "--dry"], { cwd: ROOT, encoding: "utf8" }));
}

/**
 * The projects that `tsc -b --dry`, whose output is `dryRun`, would compile
 * again: their tsconfig paths, relative to `root`. A source touched but not
 * changed is not one of them.
 */
export function staleProjects(dryRun, root = ROOT) {
  return [...dryRun.matchAll(/would build project '([^']+)'/g)].map((match) => relative(root, match[1] ?? ""));
}
