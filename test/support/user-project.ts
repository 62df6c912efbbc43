/**
 * A project outside the repository that installs protobus the way a user
 * does: `npm pack` of @protobus/sdk and @protobus/server, then `npm ci` of
 * the two tarballs, offline, from the local npm cache.
 *
 * The project's package-lock.json is cut out of the repository's own lock
 * (every package the two workspaces reach, at the versions the repository
 * tests), with the workspace links replaced by the tarballs, so that the
 * install needs no registry metadata: `npm ci --offline` finds every
 * tarball in the cache that the repository's own `npm ci` filled.
 *
 * better-sqlite3 installs from a local prebuild made of the binary the
 * repository's install compiled (same version, same Node ABI): its
 * prebuild-install looks there before downloading (which this machine
 * cannot) and compiling from source (a minute).
 *
 * One install is shared by the test files of a run: it is made under a
 * directory named by the hash of the tarballs and the lock, and reused while
 * they do not change.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./test-server.js";

const run = promisify(execFile);

/** An installed project: its directory and the tarballs it installed. */
export interface UserProject {
  /** The project's directory (node_modules, package.json, package-lock.json). */
  readonly dir: string;
  /** The packed tarballs, by package name. */
  readonly tarballs: Readonly<Record<string, string>>;
}

type LockEntry = Record<string, unknown> & {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  link?: boolean;
};

/** Packages of the repository's lock a user project also installs: what a TypeScript project has. */
const EXTRA = ["typescript", "@types/node"];

const WORKSPACES: Record<string, string> = { sdk: "@protobus/sdk", server: "@protobus/server" };

/** Packs the two packages (their prepack scripts run) into `dir`. */
export async function packPackages(dir: string): Promise<Record<string, string>> {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir, "-w", "sdk", "-w", "server"], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const packed = JSON.parse(stdout) as { name: string; filename: string }[];
  return Object.fromEntries(packed.map((p) => [p.name, join(dir, p.filename)]));
}

/** The key of the package `name` as `from` resolves it (Node's lookup, upwards through node_modules). */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base === "" ? "" : `${base}/`}node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (base === "") return undefined;
    const at = base.lastIndexOf("node_modules/");
    base = at <= 0 ? "" : base.slice(0, at - 1);
  }
}

function integrityOf(file: string): string {
  return `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
}

/**
 * The lock of a project that depends on the tarballs and on `extra`
 * packages of the repository's lock (by name, at the repository's version).
 */
export function userProjectLock(tarballs: Record<string, string>, projectDir: string, extra: readonly string[]): {
  lock: object;
  dependencies: Record<string, string>;
} {
  const repoLock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const repo = repoLock.packages;
  const rename = (key: string): string => {
    for (const [folder, name] of Object.entries(WORKSPACES)) {
      if (key === folder) return `node_modules/${name}`;
      if (key.startsWith(`${folder}/`)) return `node_modules/${name}/${key.slice(folder.length + 1)}`;
    }
    return key;
  };
  const reached = new Set<string>();
  const visit = (key: string): void => {
    if (reached.has(key)) return;
    reached.add(key);
    const entry = repo[key];
    if (entry === undefined) throw new Error(`package-lock.json has no ${key}`);
    const optionalPeers = entry.peerDependenciesMeta ?? {};
    const names = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((n) => optionalPeers[n]?.optional !== true),
    ];
    for (const name of names) {
      const found = resolveIn(repo, key, name);
      if (found === undefined) {
        if (entry.optionalDependencies?.[name] !== undefined) continue;
        throw new Error(`package-lock.json: ${key} needs ${name}, which it does not hold`);
      }
      const target = repo[found];
      // A workspace dependency (the server's @protobus/sdk) is the tarball.
      visit(target?.link === true ? (target.resolved as string) : found);
    }
  };
  for (const folder of Object.keys(WORKSPACES)) visit(folder);
  const dependencies: Record<string, string> = {};
  for (const name of Object.values(WORKSPACES)) dependencies[name] = `file:${relativeTo(projectDir, tarballs[name] as string)}`;
  for (const name of extra) {
    const key = `node_modules/${name}`;
    const entry = repo[key];
    if (entry === undefined) throw new Error(`package-lock.json has no ${key}`);
    dependencies[name] = entry.version as string;
    visit(key);
  }
  const packages: Record<string, LockEntry> = {
    "": { name: "protobus-user-project", version: "1.0.0", dependencies },
  };
  for (const key of [...reached].sort()) {
    const entry = { ...repo[key] } as LockEntry;
    delete entry.dev;
    delete entry.devOptional;
    delete entry.peer;
    const workspace = WORKSPACES[key];
    if (workspace !== undefined) {
      const tarball = tarballs[workspace] as string;
      delete entry.name;
      entry.resolved = dependencies[workspace];
      entry.integrity = integrityOf(tarball);
    }
    packages[rename(key)] = entry;
  }
  return { lock: { name: "protobus-user-project", version: "1.0.0", lockfileVersion: 3, requires: true, packages }, dependencies };
}

function relativeTo(from: string, to: string): string {
  const a = from.split("/").filter(Boolean);
  const b = to.split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}

/** A local prebuild of better-sqlite3 from the repository's compiled binary; returns its directory. */
async function betterSqlitePrebuild(dir: string): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "node_modules/better-sqlite3/package.json"), "utf8")) as { version: string };
  const name = `better-sqlite3-v${pkg.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  mkdirSync(dir, { recursive: true });
  await run("tar", ["-czf", join(dir, name), "-C", join(REPO_ROOT, "node_modules/better-sqlite3"), "build/Release/better_sqlite3.node"]);
  return dir;
}

/** Removes installs of other tarballs made more than an hour ago (each is ~250 MB). */
function pruneStaleInstalls(): void {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith("protobus-user-project-")) continue;
    const path = join(tmpdir(), name);
    try {
      if (statSync(path).mtimeMs < hourAgo) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed meanwhile by another run.
    }
  }
}

let pending: Promise<UserProject> | undefined;

/**
 * Packs both packages and installs them (plus `typescript` and
 * `@types/node`, for typed clients) into a project under the system's temp directory, offline, with
 * `--engine-strict`. Reuses an install of the same tarballs and lock.
 */
export function installedUserProject(): Promise<UserProject> {
  pending ??= install();
  return pending;
}

async function install(): Promise<UserProject> {
  const packs = mkdtempSync(join(tmpdir(), "protobus-packs-"));
  try {
    const packed = await packPackages(packs);
    const hash = createHash("sha256");
    for (const file of Object.values(packed).sort()) hash.update(readFileSync(file));
    hash.update(readFileSync(join(REPO_ROOT, "package-lock.json")));
    hash.update(EXTRA.join(","));
    const home = join(tmpdir(), `protobus-user-project-${hash.digest("hex").slice(0, 16)}`);
    const dir = join(home, "app");
    const tarballs = Object.fromEntries(Object.entries(packed).map(([name, file]) => [name, join(home, "packs", basename(file))]));
    if (existsSync(join(dir, "node_modules/.package-lock.json"))) return { dir, tarballs };
    pruneStaleInstalls();
    // Build the project beside its final place and rename it there, so a
    // concurrent run sees either nothing or a complete install.
    const staging = mkdtempSync(join(tmpdir(), "protobus-user-project-staging-"));
    try {
      const stagingApp = join(staging, "app");
      mkdirSync(join(staging, "packs"), { recursive: true });
      for (const file of Object.values(packed)) cpSync(file, join(staging, "packs", basename(file)));
      const stagingTarballs = Object.fromEntries(Object.entries(packed).map(([name, file]) => [name, join(staging, "packs", basename(file))]));
      mkdirSync(stagingApp);
      const { lock, dependencies } = userProjectLock(stagingTarballs, stagingApp, EXTRA);
      writeFileSync(
        join(stagingApp, "package.json"),
        `${JSON.stringify({ name: "protobus-user-project", version: "1.0.0", private: true, type: "module", dependencies }, null, 2)}\n`,
      );
      writeFileSync(join(stagingApp, "package-lock.json"), `${JSON.stringify(lock, null, 2)}\n`);
      const prebuilds = await betterSqlitePrebuild(join(staging, "prebuilds"));
      try {
        await run("npm", ["ci", "--offline", "--engine-strict", "--no-audit", "--no-fund", "--loglevel", "error"], {
          cwd: stagingApp,
          env: { ...process.env, npm_config_better_sqlite3_local_prebuilds: prebuilds },
          maxBuffer: 16 * 1024 * 1024,
        });
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string; message: string };
        throw new Error(`npm ci of the packed packages failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
      }
      rmSync(home, { recursive: true, force: true });
      try {
        renameSync(staging, home);
      } catch {
        // Another run finished the same install first.
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    // package.json names the tarballs relative to the project: both moved together.
    if (!existsSync(join(dir, "node_modules/.package-lock.json"))) throw new Error(`the install at ${dir} is incomplete`);
    return { dir, tarballs };
  } finally {
    rmSync(packs, { recursive: true, force: true });
  }
}

/**
 * A fresh project directory for one test's files, outside the repository,
 * with the installed project's package.json and its node_modules (linked,
 * not copied).
 */
export function projectCopy(project: UserProject, prefix = "protobus-app-"): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const name of readdirSync(project.dir)) {
    if (name === "node_modules") symlinkSync(join(project.dir, name), join(dir, name), "dir");
    else cpSync(join(project.dir, name), join(dir, name), { recursive: true });
  }
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
