/**
 * Before long work, how long: the runs `compare`, `sweep` and `capacity` plan and the time they
 * will take, printed before the first one starts. The estimate is the runs' own seconds (warm-up
 * and window) plus a measured cost per run for what surrounds it.
 */
import { durationSeconds } from "../run/engine/k6";

/**
 * Seconds a run costs besides its warm-up and window: the case's start and stop, the correctness
 * gate, the engine's start and end, the canary. Measured: `just demo` (16 runs of 2 s + 5 s, 112 s) took
 * 187 s on 2 cores, about 4.5 s a run; rounded up.
 */
export const RUN_OVERHEAD_S = 5;
/**
 * The same for a run on the start of the run before it (a comparison's second operating point of
 * a target): its one warm-up chunk, the gate, the canary, the engine; no start or stop. Measured:
 * 5.2-5.5 s for a 4 s window after a 1 s chunk, next to 8.6-10 s for a run that starts its case.
 */
export const SAME_START_OVERHEAD_S = 1;
/** A capacity search's steps: doubling from --start to the bracket, then bisection to within 5 %. */
const SEARCH_STEPS = { fewest: 6, most: 14 };

/** "45 s", "12 min". */
export const minutes = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);
const until = (s: number) => new Date(Date.now() + s * 1000).toISOString().slice(11, 16);

/**
 * "20 runs (4 targets × 5 rounds) of 5 s warm-up + 60 s: about 23 min, until about 06:40 UTC";
 * `other`: how many of the runs measure another window ("of 1s warm-up + 4s (6s for the 20 at the rate)");
 * `sameStart`: how many run on the start of the run before them.
 */
export function runsEstimate(runs: number, how: string, warmup: string, window: string, other?: { runs: number; window: string; what: string }, sameStart = 0): string {
  const each = durationSeconds(warmup) + durationSeconds(window) + RUN_OVERHEAD_S;
  const seconds = runs * each + (other ? other.runs * (durationSeconds(other.window) - durationSeconds(window)) : 0) - sameStart * (RUN_OVERHEAD_S - SAME_START_OVERHEAD_S);
  return `planned: ${runs} run(s) (${how}) of ${warmup} warm-up + ${window}${other ? ` (${other.window} for the ${other.runs} ${other.what})` : ""}: about ${minutes(seconds)}, until about ${until(seconds)} UTC`;
}

/** "3 searches (…) of 6-14 steps of 3 s warm-up + 10 s: about 4-10 min, until 06:50 UTC at the latest". */
export function searchesEstimate(searches: number, how: string, warmup: string, step: string): string {
  const each = durationSeconds(warmup) + durationSeconds(step) + RUN_OVERHEAD_S;
  const [low, high] = [SEARCH_STEPS.fewest, SEARCH_STEPS.most].map((n) => searches * n * each);
  return `planned: ${searches} capacity search(es) (${how}), each ${SEARCH_STEPS.fewest}-${SEARCH_STEPS.most} steps of ${warmup} warm-up + ${step}: about ${minutes(low)} to ${minutes(high)}, until ${until(high)} UTC at the latest`;
}
