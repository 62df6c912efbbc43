/**
 * Watching the files the security layer reads (certificates, keys, the
 * token file, the policy): polled by their stat, so that an editor's
 * write-and-rename and a secret mounted by a container runtime are both
 * seen, at most `intervalMs` late.
 */
import { unwatchFile, watchFile, type Stats } from "node:fs";

/** Calls `onChange` when any of `paths` changes (mtime, size, inode); returns a function that stops watching. */
export function watchFiles(paths: readonly string[], intervalMs: number, onChange: (path: string) => void): () => void {
  const listeners = paths.map((path) => {
    const listener = (current: Stats, previous: Stats): void => {
      if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino) onChange(path);
    };
    watchFile(path, { interval: intervalMs, persistent: false }, listener);
    return { path, listener };
  });
  return () => {
    for (const { path, listener } of listeners) unwatchFile(path, listener);
  };
}
