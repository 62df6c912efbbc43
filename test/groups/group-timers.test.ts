/**
 * The group engine's clocks on their own: redeliveries come due in time
 * order from one armed timeout, a rescheduled (newer generation) item does
 * not come due at its old time, takeDue hands over what is due at once, and
 * the deadline sweep runs while there is something to watch. On a fake
 * clock (vitest's), so that a busy machine cannot make a timer late.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeadlineSweep, DueTimers } from "../../server/src/storage/groups/group-timers.js";

/** Lets `ms` pass on the fake clock, running the timers that come due on the way. */
const sleep = async (ms: number): Promise<void> => {
  await vi.advanceTimersByTimeAsync(ms);
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

interface Item {
  readonly name: string;
  gen: number;
}

function timers(): { due: DueTimers<Item>; fired: string[] } {
  const fired: string[] = [];
  const due = new DueTimers<Item>({ now: Date.now, generation: (item) => item.gen, onDue: (items) => fired.push(...items.map((i) => i.name)) });
  return { due, fired };
}

describe("DueTimers", () => {
  it("hands over items in time order as they come due", async () => {
    const { due, fired } = timers();
    const now = Date.now();
    due.schedule({ name: "c", gen: 0 }, now + 60);
    due.schedule({ name: "a", gen: 0 }, now + 10);
    due.schedule({ name: "b", gen: 0 }, now + 35);
    await sleep(20);
    expect(fired).toEqual(["a"]);
    await sleep(80);
    expect(fired).toEqual(["a", "b", "c"]);
    due.close();
  });

  it("skips an item whose generation moved on since it was scheduled", async () => {
    const { due, fired } = timers();
    const moved = { name: "moved", gen: 0 };
    due.schedule(moved, Date.now() + 10);
    moved.gen += 1;
    due.schedule({ name: "kept", gen: 0 }, Date.now() + 10);
    await sleep(40);
    expect(fired).toEqual(["kept"]);
    due.close();
  });

  it("hands over what is due at once through takeDue, and nothing is due twice", async () => {
    const { due, fired } = timers();
    const now = Date.now();
    due.schedule({ name: "past", gen: 0 }, now - 1);
    due.schedule({ name: "later", gen: 0 }, now + 10_000);
    expect(due.takeDue(now).map((i) => i.name)).toEqual(["past"]);
    expect(due.takeDue(now)).toEqual([]);
    await sleep(20);
    expect(fired).toEqual([]);
    due.close();
  });

  it("fires nothing once closed", async () => {
    const { due, fired } = timers();
    due.schedule({ name: "a", gen: 0 }, Date.now() + 10);
    due.close();
    await sleep(40);
    expect(fired).toEqual([]);
  });
});

describe("DeadlineSweep", () => {
  it("runs its check at the interval until the check says nothing is left, and can start again", async () => {
    let runs = 0;
    let left = 3;
    const sweep = new DeadlineSweep(() => {
      runs += 1;
      left -= 1;
      return left > 0;
    });
    sweep.start(10);
    sweep.start(10);
    await sleep(250);
    expect(runs).toBe(3);
    left = 1;
    sweep.start(10);
    await sleep(150);
    expect(runs).toBe(4);
    sweep.close();
    sweep.start(10);
    await sleep(40);
    expect(runs).toBe(4);
  });
});
