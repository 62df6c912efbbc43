/**
 * The budget of large requests waiting for their turn
 * (server/src/transport/waiting-requests.ts): the bytes of all connections
 * stay within the limit and one connection's within a quarter of it, one
 * request always fits when none waits, and a refusal is RESOURCE_EXHAUSTED
 * naming the limit with a retry delay measured from the rate at which
 * waiting requests got their turn.
 */
import { describe, expect, it } from "vitest";
import { Code, retryDelayMs, type ProtobusError } from "@protobus/sdk";
import { WAITING_LIMIT_NAME, WaitingRequests } from "../../server/src/transport/waiting-requests.js";

const KiB = 1024;

/** The RetryInfo delay of a refusal, in ms. */
const delayOf = (error: ProtobusError | undefined): number | undefined => retryDelayMs(error?.details ?? []);

describe("WaitingRequests", () => {
  it("admits requests up to the limit across connections and refuses the one past it", () => {
    const waiting = new WaitingRequests({ limit: 1024 * KiB });
    for (const key of ["a", "b", "c", "d"]) expect(waiting.admit(key, 200 * KiB)).toBeUndefined();
    expect(waiting.bytes).toBe(800 * KiB);
    const refusal = waiting.admit("e", 300 * KiB);
    expect(refusal?.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refusal?.message).toContain(`${800 * KiB} bytes of large requests are waiting`);
    expect(refusal?.quotaViolations.map((v) => v.quotaId)).toEqual([WAITING_LIMIT_NAME]);
    expect(delayOf(refusal)).toBeGreaterThan(0);
    // Nothing of the refused request is counted; a smaller one still fits.
    expect(waiting.bytes).toBe(800 * KiB);
    expect(waiting.refused).toBe(1);
    expect(waiting.admit("e", 200 * KiB)).toBeUndefined();
    expect(waiting.bytes).toBe(1000 * KiB);
  });

  it("holds one connection to a quarter of the limit while other connections still get in", () => {
    const waiting = new WaitingRequests({ limit: 1024 * KiB });
    expect(waiting.admit("flood", 200 * KiB)).toBeUndefined();
    const refusal = waiting.admit("flood", 100 * KiB);
    expect(refusal?.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refusal?.message).toContain("one connection may have a quarter of the limit (262144 bytes)");
    expect(waiting.admit("other", 200 * KiB)).toBeUndefined();
    // Once its request had its turn, the connection may send another.
    waiting.release("flood", 200 * KiB);
    expect(waiting.admit("flood", 250 * KiB)).toBeUndefined();
    expect(waiting.bytes).toBe(450 * KiB);
  });

  it("lets one request larger than the limit in when nothing waits, and only then", () => {
    const waiting = new WaitingRequests({ limit: 256 * KiB });
    expect(waiting.admit("a", 4096 * KiB)).toBeUndefined();
    expect(waiting.admit("b", 64 * KiB)?.code).toBe(Code.RESOURCE_EXHAUSTED);
    waiting.release("a", 4096 * KiB);
    expect(waiting.bytes).toBe(0);
    expect(waiting.admit("b", 64 * KiB)).toBeUndefined();
  });

  it("names a retry delay of about the time what waits needs at the rate requests got their turn while some waited", () => {
    let now = 0;
    const refused: number[] = [];
    const waiting = new WaitingRequests({ limit: 1024 * KiB, now: () => now, onRefused: () => refused.push(now) });
    // Before any request had its turn there is no rate: the shortest delay.
    expect(waiting.admit("a", 600 * KiB)).toBeUndefined();
    expect(delayOf(waiting.admit("b", 600 * KiB))).toBe(50);
    now += 100;
    waiting.release("a", 600 * KiB);
    // Idle time does not count: the next turns come 100 ms apart, 128 KiB each.
    now += 60_000;
    for (let i = 0; i < 8; i++) expect(waiting.admit(`c${i}`, 128 * KiB)).toBeUndefined();
    for (let i = 0; i < 8; i++) {
      now += 100;
      waiting.release(`c${i}`, 128 * KiB);
    }
    for (let i = 0; i < 4; i++) expect(waiting.admit(`d${i}`, 200 * KiB)).toBeUndefined();
    const refusal = waiting.admit("late", 300 * KiB) as ProtobusError;
    // 800 KiB wait; the averages lean from 600 KiB per 100 ms towards 128 KiB per 100 ms.
    const delay = delayOf(refusal) as number;
    expect(delay).toBeGreaterThan(200);
    expect(delay).toBeLessThan(625);
    expect(refused).toEqual([0, now]);
    // A slow server names a long delay, at most 5 s.
    for (let i = 0; i < 4; i++) {
      now += 20_000;
      waiting.release(`d${i}`, 200 * KiB);
    }
    for (let i = 0; i < 5; i++) expect(waiting.admit(`e${i}`, 200 * KiB)).toBeUndefined();
    expect(delayOf(waiting.admit("later", 200 * KiB))).toBe(5_000);
  });
});
