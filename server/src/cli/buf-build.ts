/**
 * Building descriptor sets with the buf binary (from node_modules,
 * `PROTOBUS_BUF`, or PATH), for `schema push`, `check` and `sync`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Finds the buf binary: `PROTOBUS_BUF`, then the `@bufbuild/buf` this
 * package depends on, then node_modules/.bin/buf above the working directory
 * or this package, then PATH.
 */
export function findBuf(): string {
  const fromEnv = process.env.PROTOBUS_BUF;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  try {
    return createRequire(import.meta.url).resolve("@bufbuild/buf/bin/buf");
  } catch {
    // Not installed (an install without optional dependencies): look further.
  }
  const starts = [process.cwd(), dirname(fileURLToPath(import.meta.url))];
  for (const start of starts) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, "node_modules", ".bin", "buf");
      if (existsSync(candidate)) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return "buf";
}

/** Builds a self-contained descriptor set (imports included) from a proto directory or file. */
export function buildDescriptorSet(path: string): Uint8Array {
  const target = resolve(path);
  const isFile = statSync(target).isFile();
  const root = isFile ? dirname(target) : target;
  const args = ["build", root, ...(isFile ? ["--path", relative(root, target)] : []), "-o", "-#format=binpb"];
  try {
    return execFileSync(findBuf(), args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`buf build ${path} failed${stderr ? `:\n${stderr}` : `: ${(error as Error).message}`}`);
  }
}
