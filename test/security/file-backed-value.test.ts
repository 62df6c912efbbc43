/**
 * The value the security layer reads from files (certificates, tokens, key
 * set, policy): read when created, a failed read later keeps the value in
 * force and logs why, a new value is logged and handed to the listeners, an
 * unchanged one (by `differs`) is not, and a change to the file is picked up
 * by the watch, whenever it comes after the read began.
 */
import { execFile } from "node:child_process";
import { readFileSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Logger } from "../../server/src/logger.js";
import { FileBackedValue, type FileBackedValueOptions } from "../../server/src/security/file-backed-value.js";
import { REPO_ROOT, tempDir, waitFor } from "../support/test-server.js";

const execFileAsync = promisify(execFile);

/** A logger that keeps what it is told. */
class TestLogger implements Logger {
  readonly lines: [level: string, message: string, fields: Record<string, unknown> | undefined][] = [];
  debug(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(["debug", message, fields]);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(["info", message, fields]);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(["warn", message, fields]);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(["error", message, fields]);
  }
}

const dir = tempDir();
afterAll(() => dir.dispose());
let files = 0;

function numberFile(overrides: Partial<FileBackedValueOptions<number>> = {}): { path: string; logger: TestLogger; options: FileBackedValueOptions<number> } {
  files += 1;
  const path = join(dir.path, `value-${files}.txt`);
  writeFileSync(path, "1");
  const logger = new TestLogger();
  const options: FileBackedValueOptions<number> = {
    paths: [path],
    watchIntervalMs: 0,
    logger,
    read: () => {
      const value = Number(readFileSync(path, "utf8"));
      if (!Number.isInteger(value)) throw new RangeError(`${path}: not a number`);
      return value;
    },
    failedMessage: "value not reloaded",
    loadedMessage: "value loaded",
    logFields: { path },
    loadedFields: (value) => ({ value }),
    ...overrides,
  };
  return { path, logger, options };
}

describe("FileBackedValue", () => {
  it("throws what the first read throws", () => {
    const { path, options } = numberFile();
    writeFileSync(path, "x");
    expect(() => new FileBackedValue(options)).toThrow(RangeError);
  });

  it("keeps the value in force when a read fails, and takes and announces a good one", () => {
    const { path, logger, options } = numberFile();
    const value = new FileBackedValue(options);
    const heard: number[] = [];
    const stop = value.onChange((v) => heard.push(v));
    expect(value.current).toBe(1);

    writeFileSync(path, "x");
    expect(value.reload()).toBe(false);
    expect(value.current).toBe(1);
    expect(logger.lines).toEqual([["error", "value not reloaded", { path, error: expect.any(RangeError) }]]);

    writeFileSync(path, "2");
    expect(value.reload()).toBe(true);
    expect(value.current).toBe(2);
    expect(logger.lines[1]).toEqual(["info", "value loaded", { path, value: 2 }]);
    expect(heard).toEqual([2]);

    stop();
    writeFileSync(path, "3");
    expect(value.reload()).toBe(true);
    expect(heard).toEqual([2]);
    value.close();
  });

  it("keeps the value in force, silently, when `differs` says the new one is the same", () => {
    const { path, logger, options } = numberFile({ differs: (current, next) => current !== next });
    const value = new FileBackedValue(options);
    const heard: number[] = [];
    value.onChange((v) => heard.push(v));
    expect(value.reload()).toBe(false);
    expect(logger.lines).toEqual([]);
    writeFileSync(path, "5");
    expect(value.reload()).toBe(true);
    expect(heard).toEqual([5]);
    value.close();
  });

  it("reads the file again when it changes, while watched", async () => {
    const { path, options } = numberFile({ watchIntervalMs: 20 });
    const value = new FileBackedValue(options);
    try {
      writeFileSync(path, "12");
      await waitFor(() => value.current === 12, 10_000, "the changed file");
    } finally {
      value.close();
    }
  });
});

/**
 * The watch compares each poll with a stamp taken before the read, not with
 * the poll before: a change at any moment after the read began is read in
 * turn, also one made before the watch's first poll (these changes are all
 * made synchronously, before the event loop runs a poll) or one that leaves
 * size and mtime as they were.
 */
describe("FileBackedValue watch: no change goes unseen", () => {
  /** A watched number file whose reads are counted; `duringRead` runs inside the next read, after the file was read. */
  function watched(): { path: string; logger: TestLogger; value: FileBackedValue<number>; reads: () => number; duringRead: (change: () => void) => void } {
    let reads = 0;
    let pending: (() => void) | undefined;
    const file = numberFile({ watchIntervalMs: 20 });
    const { read } = file.options;
    const value = new FileBackedValue({
      ...file.options,
      read: () => {
        reads += 1;
        const result = read();
        const change = pending;
        pending = undefined;
        change?.();
        return result;
      },
    });
    values.push(value);
    return { path: file.path, logger: file.logger, value, reads: () => reads, duringRead: (change) => (pending = change) };
  }
  const values: FileBackedValue<number>[] = [];
  afterEach(() => {
    for (const value of values.splice(0)) value.close();
  });
  const loaded = (logger: TestLogger): unknown[] => logger.lines.filter(([, message]) => message === "value loaded").map(([, , fields]) => fields?.["value"]);

  it("sees a change made right after the first read, before any poll", async () => {
    const { path, value } = watched();
    writeFileSync(path, "23");
    await waitFor(() => value.current === 23, 10_000, "the value written after the read");
  });

  it("sees an in-place change of the same size right after the first read", async () => {
    // Most likely within the same timestamp tick as the stamp: the stat may be
    // identical, so the contents of a file changed this recently are compared.
    const { path, value } = watched();
    writeFileSync(path, "7");
    await waitFor(() => value.current === 7, 10_000, "the value written after the read");
  });

  it("sees the file replaced by one of the same size and the same mtime", async () => {
    const { path, value } = watched();
    const before = statSync(path);
    const replacement = `${path}.new`;
    writeFileSync(replacement, "8");
    utimesSync(replacement, before.atime, before.mtime);
    expect(statSync(replacement).size).toBe(before.size);
    expect(Math.floor(statSync(replacement).mtimeMs / 1000)).toBe(Math.floor(before.mtimeMs / 1000));
    renameSync(replacement, path);
    await waitFor(() => value.current === 8, 10_000, "the replacement's value");
  });

  it("sees a change made while the file was being read, on creation and on reload()", async () => {
    const { path, value, duringRead } = watched();
    // The first read has happened; this change comes during a reload's read.
    duringRead(() => writeFileSync(path, "3"));
    writeFileSync(path, "2");
    expect(value.reload()).toBe(true);
    expect(value.current).toBe(2);
    await waitFor(() => value.current === 3, 10_000, "the value written during the read");

    const file = numberFile({ watchIntervalMs: 20 });
    const { read } = file.options;
    let first = true;
    const created = new FileBackedValue({
      ...file.options,
      read: () => {
        const result = read();
        if (first) writeFileSync(file.path, "4");
        first = false;
        return result;
      },
    });
    values.push(created);
    expect(created.current).toBe(1);
    await waitFor(() => created.current === 4, 10_000, "the value written during the first read");
  });

  it("follows change after change, and does not read an untouched file again", async () => {
    const { path, logger, value, reads } = watched();
    for (const next of [5, 6, 17, 9]) {
      writeFileSync(path, String(next));
      await waitFor(() => value.current === next, 10_000, `value ${next}`);
    }
    const readsSoFar = reads();
    // Some polls run meanwhile (fewer under load; then the check proves less, but never fails wrongly).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reads()).toBe(readsSoFar);
    expect(loaded(logger)).toEqual([5, 6, 17, 9]);
  });

  it("keeps the last good value when the file turns invalid, and takes the next good one", async () => {
    const { path, logger, value } = watched();
    writeFileSync(path, "x");
    await waitFor(() => logger.lines.some(([level]) => level === "error"), 10_000, "the failed reload");
    expect(value.current).toBe(1);
    writeFileSync(path, "30");
    await waitFor(() => value.current === 30, 10_000, "the good value");
  });

  it("logs what a listener throws and goes on watching", async () => {
    const { path, logger, value } = watched();
    value.onChange((v) => {
      if (v === 40) throw new Error("listener failed");
    });
    writeFileSync(path, "40");
    await waitFor(() => logger.lines.some(([, message]) => message === "reload after a file change failed"), 10_000, "the logged listener error");
    writeFileSync(path, "41");
    await waitFor(() => value.current === 41, 10_000, "the next value");
  });

  it("stops on close", async () => {
    const { path, value, reads } = watched();
    value.close();
    writeFileSync(path, "50");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(reads()).toBe(1);
    expect(value.current).toBe(1);
  });

  it("does not keep the process alive", async () => {
    const { path } = numberFile();
    const module = pathToFileURL(join(REPO_ROOT, "server/dist/security/file-backed-value.js")).href;
    const script = `
      import { readFileSync } from "node:fs";
      import { FileBackedValue } from ${JSON.stringify(module)};
      const logger = { debug() {}, info() {}, warn() {}, error() {} };
      const value = new FileBackedValue({ paths: [${JSON.stringify(path)}], watchIntervalMs: 10, logger, read: () => readFileSync(${JSON.stringify(path)}, "utf8"), failedMessage: "f", loadedMessage: "l", logFields: {} });
      console.log("watching", value.current);
    `;
    const { stdout } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script], { timeout: 20_000 });
    expect(stdout.trim()).toBe("watching 1");
  });
});
