/**
 * `FailureLog`: failures of a store's background work reach the server's
 * log with their cause, the first at once and the rest at most once per
 * interval with how many there were, so a failure repeated every second
 * does not fill the log.
 */
import { describe, expect, it } from "vitest";
import { createLogger } from "@protobus/server";
import { FailureLog } from "../server/src/storage/failure-log.js";

describe("FailureLog", () => {
  it("logs the first failure at once, then one line per interval that counts the failures since", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "warn", format: "json", write: (line) => lines.push(line) });
    let now = 0;
    const log = new FailureLog(logger, "sqlite retention could not delete events", "tried again in 1 s", 60_000, () => now);
    const records = () => lines.map((line) => JSON.parse(line) as { level: string; message: string; failures: number });

    log.report(new Error("database is locked"));
    expect(records()).toMatchObject([{ level: "warn", message: "sqlite retention could not delete events: database is locked; tried again in 1 s", failures: 1 }]);

    for (let second = 1; second < 60; second++) {
      now = second * 1000;
      log.report(new Error("database is locked"));
    }
    expect(lines).toHaveLength(1);

    now = 60_000;
    log.report("database or disk is full");
    expect(records()[1]).toEqual({
      time: expect.any(String),
      level: "warn",
      message: "sqlite retention could not delete events: database or disk is full (60 failures since the last report); tried again in 1 s",
      failures: 60,
    });

    now = 200_000;
    log.report(new Error("disk I/O error"));
    expect(records()[2]).toMatchObject({ message: "sqlite retention could not delete events: disk I/O error; tried again in 1 s", failures: 1 });

    now = 300_000;
    log.report(new Error("timeout"), "consumer group 'g'");
    expect(records()[3]).toMatchObject({ message: "sqlite retention could not delete events: consumer group 'g': timeout; tried again in 1 s", failures: 1 });
  });

  it("counts without a logger", () => {
    const log = new FailureLog(undefined, "work", "again");
    expect(() => log.report(new Error("x"))).not.toThrow();
  });
});
