/**
 * The machine-speed canary (docs/design.md §13): the same CPU-bound workload, timed at the start of each
 * measured run, before it starts anything. A shared machine that is slower for a while (another tenant, a throttled
 * core) slows the canary too. In a comparison a run waits, a bounded time, for a canary at the
 * comparison's usual speed before it starts (`waitForUsualSpeed`); a run whose canary is still far
 * off the comparison's median is flagged `machine_slow` and kept.
 */
import { mulberry32 } from "../determinism.js";
import { median } from "../stats/stats";
import { sleep, spawnSync, which } from "../runtime";

/** Iterations of one timing: about 9 ms on the machine fleetbench was written on. */
const ITERATIONS = 1_000_000;
/**
 * Timings per canary; the fastest counts. Measured on a shared 2-core machine: the median of 5
 * timings of 60 ms varied from 69 to 134 (index) between idle moments, the minimum of 20 short
 * ones stayed within about ±10 %, and still rose by half in the machine's slow episodes.
 */
const REPEATS = 20;
/** The canary's time on the machine fleetbench was written on; index 100 = that speed. */
const REFERENCE_MS = 9;

/** The fixed workload: integer mixing and a dependent sum, nothing the JIT can skip. */
function work(): number {
  const random = mulberry32(0x5eed);
  let acc = 0;
  for (let i = 0; i < ITERATIONS; i++) acc = (acc + Math.imul(Math.floor(random() * 0xffff), i | 1)) | 0;
  return acc;
}

export interface Canary {
  /** The fastest of `REPEATS` timings, in milliseconds: the machine's speed when nothing interrupted it. */
  ms: number;
  /** 100 × reference time ÷ this time: higher is faster; compared only within one comparison. */
  index: number;
  /** Instructions per request need `perf stat`; recorded only where it works. */
  instructions: null;
  instructions_note: string;
}

export function runCanary(): Canary {
  work(); // compiled before it is timed
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    work();
    times.push(performance.now() - t0);
  }
  const ms = Math.min(...times);
  return {
    ms: Math.round(ms * 100) / 100,
    index: Math.round((REFERENCE_MS / ms) * 10000) / 100,
    instructions: null,
    instructions_note: perfNote(),
  };
}

let perfChecked: string | null = null;
/** Whether hardware instruction counts can be read here; said, never assumed. */
function perfNote(): string {
  if (perfChecked !== null) return perfChecked;
  const perf = which("perf");
  if (!perf) return (perfChecked = "perf is not installed: instructions per request not recorded");
  const probe = spawnSync([perf, "stat", "-x,", "-e", "instructions", "true"]);
  const text = probe.stderr.toString();
  perfChecked = probe.exitCode === 0 && /^\d+,/m.test(text)
    ? "perf stat works here, but fleetbench does not record instructions per request yet"
    : "perf stat cannot count instructions on this machine (no hardware counters): not recorded";
  return perfChecked;
}

/**
 * How a run waits for the machine: a canary more than `limit` slower than the comparison's median
 * so far is taken again every `stepMs` for at most `maxWaitMs`. Measured here (2 cores, shared): the
 * canary fell from about 158 to 98-115 in 1-5 runs of 24 in a comparison, the runs with such a
 * canary cost 23-35 % more CPU per request than the same target's other rounds, and the runs
 * before and after them (6-8 s away) read the usual speed again: the slow spells are seconds long.
 */
export const CALM = { limit: 0.1, maxWaitMs: 10_000, stepMs: 500 };
/**
 * All the waits of one comparison together: at most 30 s. In demos here 5-20 of 52 runs waited,
 * 0.6-5.5 s each, 7-40 s in all; a machine slow that often would otherwise stretch a 6½-minute
 * demo by minutes. Past it the runs go on without waiting and a slow one is flagged `machine_slow`.
 */
export const WAIT_BUDGET_MS = 30_000;

/**
 * Whether a canary index is more than `limit` slower than `usual`. The epsilon keeps "exactly 10 %
 * off" on the right side of floating point (110 / 100 - 1 > 0.1).
 */
const slowerThan = (index: number, usual: number, limit: number) => 1 - index / usual > limit + 1e-9;

/** What a run records when it waited for the machine: the time waited, the first canary's index, whether the machine came back. */
export interface MachineWait {
  waited_ms: number;
  first_index: number;
  calm: boolean;
}

/**
 * Before a comparison's run: a canary, and when it is more than `limit` slower than the comparison's
 * median so far (`usual`), canaries again every `stepMs` until one is not, `maxWaitMs` passed or
 * `stop()` (Ctrl-C). `machineWait`: null when the first canary was at the usual speed (or there is
 * no `usual` yet), otherwise what the wait was. `canary`: the last one taken (null when none was),
 * just before the run with nothing started since — the run's own canary, so it takes no second
 * one. A run still slow is flagged `machine_slow` by the comparison. `take` is the canary.
 */
export interface BeforeRun {
  machineWait: MachineWait | null;
  canary: Canary | null;
}

export async function waitForUsualSpeed(usual: number | null, log: (line: string) => void, stop: () => boolean = () => false, take: () => Canary = runCanary, calm = CALM): Promise<BeforeRun> {
  if (usual === null) return { machineWait: null, canary: null };
  const slow = (c: Canary) => slowerThan(c.index, usual, calm.limit);
  const first = take();
  if (!slow(first)) return { machineWait: null, canary: first };
  log(`the machine is slow now (canary index ${first.index}, the comparison's usual ${Math.round(usual * 10) / 10}): waiting for it, at most ${calm.maxWaitMs / 1000} s`);
  const t0 = Date.now();
  let last = first;
  while (slow(last) && Date.now() - t0 < calm.maxWaitMs && !stop()) {
    await sleep(calm.stepMs);
    last = take();
  }
  const waited = Date.now() - t0;
  const back = !slow(last);
  if (!stop()) log(back ? `the machine is back to its usual speed after ${(waited / 1000).toFixed(1)} s (canary index ${last.index})` : `still slow after ${(waited / 1000).toFixed(1)} s (canary index ${last.index}): measuring anyway; the comparison flags the run machine_slow`);
  return { machineWait: { waited_ms: waited, first_index: first.index, calm: back }, canary: last };
}

/**
 * A comparison's waits (`waitForUsualSpeed` for each run, given the usual speed of the moment), all
 * of them together within `budgetMs`: once it is spent the runs no longer wait, said once.
 */
export function budgetedWaits(budgetMs: number, log: (line: string) => void, stop: () => boolean = () => false, take: () => Canary = runCanary, calm = CALM) {
  let waited = 0;
  let said = false;
  return async (usual: number | null): Promise<BeforeRun> => {
    const left = budgetMs - waited;
    if (left <= 0) {
      if (said || usual === null) return { machineWait: null, canary: null };
      const canary = take();
      if (slowerThan(canary.index, usual, calm.limit)) {
        log(`the machine is slow now, but this comparison has waited ${(waited / 1000).toFixed(1)} s for it, its budget: no more waits (a slow run is flagged machine_slow)`);
        said = true;
      }
      return { machineWait: null, canary };
    }
    const before = await waitForUsualSpeed(usual, log, stop, take, { ...calm, maxWaitMs: Math.min(calm.maxWaitMs, left) });
    waited += before.machineWait?.waited_ms ?? 0;
    return before;
  };
}

/**
 * The canary indexes' median, and which runs are slower than it by more than `limit`. Only slower:
 * a run measured on a faster moment is not `machine_slow`.
 */
export function slowRuns(indexes: { id: string; index: number }[], limit = CALM.limit) {
  if (!indexes.length) return { median: null, slow: [] as string[] };
  const mid = median(indexes.map((x) => x.index));
  return { median: mid, slow: indexes.filter((x) => slowerThan(x.index, mid, limit)).map((x) => x.id) };
}
