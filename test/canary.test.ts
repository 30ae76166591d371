/**
 * The wait for the machine before a comparison's run (src/run/canary.ts, `waitForUsualSpeed`): on
 * given canary readings, when it waits, how long, and what it records; then for real, with busy
 * processes slowing this machine's canary for a while and the wait ending when they stop.
 */
import { expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { budgetedWaits, type Canary, runCanary, waitForUsualSpeed } from "../src/run/canary";
import { median } from "../src/stats/stats";
import { runtimeBinary, spawn } from "../src/runtime";

/** Canaries reading `indexes` in turn (the last one again once they run out). */
const readings = (indexes: number[]) => {
  let i = 0;
  const taken: number[] = [];
  const take = (): Canary => {
    const index = indexes[Math.min(i++, indexes.length - 1)];
    taken.push(index);
    return { ms: 900 / index, index, instructions: null, instructions_note: "" };
  };
  return { take, taken };
};
const quick = { limit: 0.1, maxWaitMs: 1_000, stepMs: 5 };
const quiet = () => {};

test("no wait without a usual speed yet or with a canary within 10 % of it; otherwise canaries until one is, the bound passes or Ctrl-C", async () => {
  const none = readings([50]);
  expect((await waitForUsualSpeed(null, quiet, undefined, none.take, quick)).machineWait).toBeNull();
  expect(none.taken).toEqual([]);
  // 10 % slower is still the usual speed (the machine_slow flag's own edge).
  const usual = readings([142.2]);
  expect((await waitForUsualSpeed(158, quiet, undefined, usual.take, quick)).machineWait).toBeNull();
  expect(usual.taken).toEqual([142.2]);
  expect((await waitForUsualSpeed(158, quiet, undefined, readings([150]).take, quick)).canary!.index).toBe(150);
  const lines: string[] = [];
  const back = readings([101, 103, 140, 152]);
  const { machineWait: wait, canary } = await waitForUsualSpeed(158, (l) => lines.push(l), undefined, back.take, quick);
  expect(back.taken).toEqual([101, 103, 140, 152]);
  // The last canary, at the usual speed again, is the run's own: no second one is taken.
  expect(canary!.index).toBe(152);
  expect({ first: wait!.first_index, calm: wait!.calm }).toEqual({ first: 101, calm: true });
  expect(wait!.waited_ms).toBeGreaterThanOrEqual(3 * quick.stepMs - 2);
  expect(lines[0]).toBe("the machine is slow now (canary index 101, the comparison's usual 158): waiting for it, at most 1 s");
  expect(lines[1]).toMatch(/^the machine is back to its usual speed after \d+\.\d s \(canary index 152\)$/);
  // Never back: the bound ends the wait and the run is measured anyway.
  const slow = readings([100]);
  const t0 = Date.now();
  const { machineWait: bounded } = await waitForUsualSpeed(158, (l) => lines.push(l), undefined, slow.take, { ...quick, maxWaitMs: 100 });
  expect({ first: bounded!.first_index, calm: bounded!.calm }).toEqual({ first: 100, calm: false });
  expect(Date.now() - t0).toBeLessThan(1_000);
  expect(lines.at(-1)).toMatch(/^still slow after \d+\.\d s \(canary index 100\): measuring anyway; the comparison flags the run machine_slow$/);
  // Ctrl-C during the wait ends it at once.
  const { machineWait: stopped } = await waitForUsualSpeed(158, quiet, () => true, readings([100]).take, quick);
  expect(stopped!.calm).toBe(false);
  expect(stopped!.waited_ms).toBeLessThan(quick.stepMs * 4);
});

test("for real: four busy processes per core slow this machine's canary, and the wait ends soon after they stop", async () => {
  // The usual speed as a comparison has it: the median of several canaries, so that one taken in
  // one of the machine's own short slow spells (here the canary reads ~100 against ~156 for a
  // reading or a few, several times a minute) does not set it.
  const idle: number[] = [];
  for (let i = 0; i < 5; i++) {
    idle.push(runCanary().index);
    await Bun.sleep(100);
  }
  const usual = median(idle);
  // Four busy loops per core: the canary, the fastest of 20 short timings, then read 0.26-0.60 of
  // the usual speed in 10 of 10 tries here; with two per core 2 of 10 tries still found a timing
  // nothing interrupted (0.92, 1.0), and so did one try of the last CI run.
  const busy = Array.from({ length: 4 * availableParallelism() }, () => spawn([runtimeBinary("bun")!, "-e", "while (true) {}"]));
  try {
    await Bun.sleep(500);
    const stopAt = Date.now() + 2_000;
    const stopper = (async () => {
      await Bun.sleep(stopAt - Date.now());
      for (const b of busy) b.kill("SIGKILL");
    })();
    const t0 = Date.now();
    const { machineWait: wait } = await waitForUsualSpeed(usual, quiet, undefined, runCanary, { limit: 0.1, maxWaitMs: 8_000, stepMs: 200 });
    await stopper;
    expect(wait).not.toBeNull();
    expect(wait!.first_index).toBeLessThan(usual * 0.9);
    expect(wait!.calm).toBe(true);
    // It waited for the busy processes (stopped 2 s in), and not much longer.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_500);
    expect(wait!.waited_ms).toBeLessThan(4_000);
  } finally {
    for (const b of busy) b.kill("SIGKILL");
  }
}, 30_000);

test("a comparison's waits together stay within their budget; past it no run waits, said once when the machine is slow", async () => {
  const lines: string[] = [];
  // Each wait: one slow canary, then slow for ~60 ms of 5 ms steps, then usual.
  let slowUntil = 0;
  const take = (): Canary => {
    const index = Date.now() < slowUntil ? 100 : 158;
    return { ms: 900 / index, index, instructions: null, instructions_note: "" };
  };
  const waits = budgetedWaits(100, (l) => lines.push(l), undefined, take, quick);
  const got: (number | null)[] = [];
  for (let i = 0; i < 6; i++) {
    slowUntil = Date.now() + 60;
    got.push((await waits(158)).machineWait?.waited_ms ?? null);
  }
  // The first wait takes ~60 ms; the next is cut at what is left of the 100 ms (a timer's lateness
  // aside); once it is spent no run waits, and the slow machine is said once.
  expect(got[0]).toBeGreaterThanOrEqual(55);
  const waited = got.filter((w) => w !== null) as number[];
  expect(waited.reduce((s, w) => s + w, 0)).toBeLessThanOrEqual(100 + 100);
  expect(waited.length).toBeLessThanOrEqual(4);
  expect(got.slice(-2)).toEqual([null, null]);
  expect(lines.filter((l) => l.includes("its budget: no more waits"))).toHaveLength(1);
  // Not slow, no line: the budget is only said when it keeps a slow run from waiting.
  const calm = budgetedWaits(0, (l) => lines.push(l), undefined, readings([158]).take, quick);
  const before = lines.length;
  expect((await calm(158)).machineWait).toBeNull();
  expect(lines.length).toBe(before);
});
