/**
 * Watching the files the security layer reads (certificates, keys, the
 * token file, the policy): polled by their stat, so that an editor's
 * write-and-rename and a secret mounted by a container runtime are both
 * seen, at most `intervalMs` late.
 *
 * The files are stamped (device, inode, size, mtime, ctime) before they are
 * read, and every poll compares them with that stamp, not with the poll
 * before: a change at any moment after the stamp (during the read, or
 * before the first poll) differs from it and is seen. One change leaves the
 * stat as it was: an in-place write of the same size within the same
 * timestamp tick as the stamp. So a file changed shortly before its stamp
 * is "racy": its contents are compared as well, until a stamp finds it
 * older than any timestamp granularity (what git does for its index).
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync, type BigIntStats } from "node:fs";
import { readFile, stat } from "node:fs/promises";

/** A file changed this recently (ms, by its ctime) may change again without its stat showing it; covers filesystems with 1 s and 2 s timestamps. */
const RACY_MS = 2_500;

/** What a file looked like when it was last read. */
interface Stamp {
  /** The stat's fields that a change of contents moves; undefined when the file could not be stat'ed. */
  readonly key: string | undefined;
  /** The digest of the contents, kept while the stamp is racy. */
  readonly digest: string | undefined;
  /** Whether the file changed so recently that a change may hide from its stat. */
  readonly racy: boolean;
}

/** The result of one poll of one file: changed, or its stamp (renewed). */
type Check = { readonly changed: true } | { readonly changed: false; readonly stamp: Stamp };

/**
 * Files stamped before they are read and polled against that stamp. Create
 * it (or call `restamp`) just before reading the files, then `watch`.
 */
export class WatchedFiles {
  readonly #paths: readonly string[];
  #stamps: readonly Stamp[];
  /** Moves with every `restamp`, so that a poll begun before one is dropped. */
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** Stamps the files as they are now; create it before the first read. */
  constructor(paths: readonly string[]) {
    this.#paths = paths;
    this.#stamps = paths.map(stampNow);
  }

  /** Stamps the files again; call it just before reading them again. */
  restamp(): void {
    this.#generation += 1;
    this.#stamps = this.#paths.map(stampNow);
  }

  /**
   * Polls every `intervalMs` (the timer does not keep the process alive)
   * and calls `onChange` when a file differs from its stamp; `onChange`
   * should `restamp` and read. What `onChange` throws goes to `onError`.
   */
  watch(intervalMs: number, onChange: () => void, onError: (error: unknown) => void): void {
    const schedule = (): void => {
      if (this.#closed) return;
      this.#timer = setTimeout(() => {
        this.#poll(onChange).catch(onError).finally(schedule);
      }, intervalMs);
      this.#timer.unref();
    };
    schedule();
  }

  /** Stops polling. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #poll(onChange: () => void): Promise<void> {
    const generation = this.#generation;
    const checks = await Promise.all(this.#paths.map((path, i) => check(path, this.#stamps[i] as Stamp)));
    if (this.#closed || generation !== this.#generation) return;
    const stamps: Stamp[] = [];
    for (const result of checks) {
      if (result.changed) {
        onChange();
        return;
      }
      stamps.push(result.stamp);
    }
    this.#stamps = stamps;
  }
}

function stampNow(path: string): Stamp {
  const before = Date.now();
  let stats: BigIntStats | undefined;
  try {
    stats = statSync(path, { bigint: true });
  } catch {
    stats = undefined;
  }
  const racy = isRacy(stats, before);
  let digest: string | undefined;
  if (racy) {
    try {
      digest = digestOf(readFileSync(path));
    } catch {
      digest = digestOf(undefined);
    }
  }
  return { key: keyOf(stats), racy, digest };
}

async function check(path: string, stamp: Stamp): Promise<Check> {
  const before = Date.now();
  const stats = await stat(path, { bigint: true }).catch(() => undefined);
  const key = keyOf(stats);
  if (key !== stamp.key) return { changed: true };
  if (!stamp.racy) return { changed: false, stamp };
  const digest = digestOf(await readFile(path).catch(() => undefined));
  if (digest !== stamp.digest) return { changed: true };
  const racy = isRacy(stats, before);
  return { changed: false, stamp: { key, racy, digest: racy ? digest : undefined } };
}

function keyOf(stats: BigIntStats | undefined): string | undefined {
  return stats === undefined ? undefined : `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/** Whether `stats`, taken at or after `takenAt`, may miss a change made after them (the file changed within the racy span). */
function isRacy(stats: BigIntStats | undefined, takenAt: number): boolean {
  return stats !== undefined && Number(stats.ctimeMs > stats.mtimeMs ? stats.ctimeMs : stats.mtimeMs) >= takenAt - RACY_MS;
}

/** A digest of a file's contents; undefined (a file that cannot be read) has the digest "unreadable". */
function digestOf(bytes: Buffer | undefined): string {
  return bytes === undefined ? "unreadable" : createHash("sha256").update(bytes).digest("base64");
}
