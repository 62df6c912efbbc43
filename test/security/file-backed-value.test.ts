/**
 * The value the security layer reads from files (certificates, tokens, key
 * set, policy): read when created, a failed read later keeps the value in
 * force and logs why, a new value is logged and handed to the listeners, an
 * unchanged one (by `differs`) is not, and a change to the file is picked up
 * by the watch.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Logger } from "../../server/src/logger.js";
import { FileBackedValue, type FileBackedValueOptions } from "../../server/src/security/file-backed-value.js";
import { tempDir, waitFor } from "../support/test-server.js";

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
      // The watch compares each stat with the one before; a write that lands
      // before its first stat is that first stat. So the file changes again
      // until one change is seen (each write makes the value larger).
      let written = 11;
      await waitFor(
        () => {
          if (value.current >= 12) return true;
          written += 1;
          writeFileSync(path, String(written));
          return false;
        },
        10_000,
        "the changed file",
      );
      expect(value.current).toBeGreaterThanOrEqual(12);
      expect(value.current).toBeLessThanOrEqual(written);
    } finally {
      value.close();
    }
  });
});
