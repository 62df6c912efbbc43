// Another build of protobus, made from a git revision in a temporary
// directory outside the repository, for `npm run bench -- --compare <rev>`:
// the revision's files (`git archive`), its dependencies (this checkout's
// node_modules linked when the revision's lockfile asks for nothing they do
// not hold, `npm ci` otherwise) and `tsc -b`.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** True for a lockfile path that sits in a package's or a workspace's own node_modules, not at the top. */
function nested(path) {
  return !/^node_modules\/(@[^/]+\/)?[^/]+$/.test(path);
}

/**
 * What keeps `theirs` (a package-lock.json) from running on the packages
 * installed for `ours`: each package it wants at a path where ours has
 * another version or none, and each nested package of ours it lacks (which
 * would change what its own packages resolve). Workspace links do not count.
 * An empty list means this checkout's node_modules serve the revision as they are.
 */
export function lockfileMismatches(theirs, ours) {
  const wanted = theirs.packages ?? {};
  const held = ours.packages ?? {};
  const problems = [];
  for (const [path, entry] of Object.entries(wanted)) {
    if (!path.includes("node_modules/") || entry.link === true) continue;
    const have = held[path];
    if (have === undefined || have.link === true) problems.push(`${path}: ${entry.version} missing`);
    else if (have.version !== entry.version) problems.push(`${path}: ${entry.version} wanted, ${have.version} installed`);
  }
  for (const [path, entry] of Object.entries(held)) {
    if (path.includes("node_modules/") && nested(path) && entry.link !== true && wanted[path] === undefined) problems.push(`${path}: installed, not wanted`);
  }
  return problems;
}

function readJson(file) {
  return JSON.parse(readFileSync(file, "utf8"));
}

/**
 * Gives `dir` a node_modules of links into `repoRoot`'s, except the
 * revision's own workspace packages, which link to its own folders, and
 * the workspaces' node_modules, linked one by one.
 */
function linkNodeModules(repoRoot, dir, lock) {
  const links = Object.entries(lock.packages ?? {}).filter(([path, entry]) => entry.link === true && path.startsWith("node_modules/"));
  // A scope holding a workspace package gets a folder of its own.
  const ownScopes = new Set(links.map(([path]) => path.split("/")[1]).filter((name) => name.startsWith("@")));
  const target = join(dir, "node_modules");
  mkdirSync(target);
  for (const name of readdirSync(join(repoRoot, "node_modules"))) {
    if (ownScopes.has(name)) {
      mkdirSync(join(target, name));
      // Links there are this checkout's workspace packages: none of them is taken.
      for (const inner of readdirSync(join(repoRoot, "node_modules", name))) {
        const source = join(repoRoot, "node_modules", name, inner);
        if (!lstatSync(source).isSymbolicLink()) symlinkSync(source, join(target, name, inner));
      }
    } else symlinkSync(join(repoRoot, "node_modules", name), join(target, name));
  }
  for (const [path, entry] of links) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    symlinkSync(join(dir, entry.resolved), join(dir, path));
    const own = join(repoRoot, entry.resolved, "node_modules");
    if (existsSync(own) && existsSync(join(dir, entry.resolved))) symlinkSync(own, join(dir, entry.resolved, "node_modules"));
  }
}

/**
 * After `npm ci --ignore-scripts`: packages with an install step (a native
 * addon such as better-sqlite3) get the compiled `build/` of the same
 * version from this checkout, so nothing is compiled or downloaded.
 */
function reuseNativeBuilds(repoRoot, dir, theirs, ours) {
  const reused = [];
  for (const [path, entry] of Object.entries(theirs.packages ?? {})) {
    if (entry.hasInstallScript !== true || ours.packages?.[path]?.version !== entry.version) continue;
    const build = join(repoRoot, path, "build");
    if (existsSync(build) && existsSync(join(dir, path)) && !existsSync(join(dir, path, "build"))) {
      cpSync(build, join(dir, path, "build"), { recursive: true });
      reused.push(path.replace(/^.*node_modules\//, ""));
    }
  }
  return reused;
}

function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20, ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.signal}): ${(result.stderr || result.stdout || String(result.error)).trim().slice(-2000)}`);
  return result.stdout;
}

/** Installs the revision's dependencies in `dir`; says how. */
function installDependencies(repoRoot, dir, log) {
  const theirs = readJson(join(dir, "package-lock.json"));
  const ours = readJson(join(repoRoot, "package-lock.json"));
  const mismatches = lockfileMismatches(theirs, ours);
  if (mismatches.length === 0) {
    linkNodeModules(repoRoot, dir, theirs);
    return { mode: "linked" };
  }
  log(`  its lockfile differs from this checkout's in ${mismatches.length} package(s) (${mismatches.slice(0, 3).join("; ")}${mismatches.length > 3 ? "; …" : ""}): npm ci`);
  run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir });
  const reused = reuseNativeBuilds(repoRoot, dir, theirs, ours);
  return { mode: "npm ci", lockfileDifferences: mismatches.length, nativeBuildsReused: reused };
}

/**
 * Builds `rev` of the repository at `repoRoot` in a fresh temporary
 * directory. Resolves to `{ dir, rev, commit, install, seconds, remove() }`;
 * on failure nothing is left behind.
 */
export function prepareBuild({ repoRoot, rev, log = () => undefined }) {
  const began = Date.now();
  const git = (...args) => execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  let commit;
  try {
    commit = git("rev-parse", "--verify", "--quiet", `${rev}^{commit}`);
  } catch {
    throw new Error(`--compare ${rev}: not a commit of this repository`);
  }
  const dir = mkdtempSync(join(tmpdir(), "protobus-bench-build-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    log(`preparing ${rev} (${commit.slice(0, 7)}) in ${dir}`);
    const archive = spawnSync("git", ["archive", "--format=tar", commit], { cwd: repoRoot, maxBuffer: 1024 * 2 ** 20 });
    if (archive.status !== 0) throw new Error(`git archive ${commit} failed: ${archive.stderr.toString().trim()}`);
    run("tar", ["-x", "-C", dir], { input: archive.stdout, encoding: "buffer" });
    const install = installDependencies(repoRoot, dir, log);
    log(`  dependencies: ${install.mode}; building with tsc -b`);
    run(process.execPath, [join(dir, "node_modules", "typescript", "bin", "tsc"), "-b"], { cwd: dir });
    return { dir, rev, commit, install, seconds: Math.round((Date.now() - began) / 100) / 10, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
