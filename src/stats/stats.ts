/**
 * The statistics of docs/design.md §13, as pure functions over one number per round (n typically 3–10):
 * per case a median with its exact order-statistic interval (src/stats/order-statistics.ts) and a
 * CV; per pair a ratio of medians with a bootstrap interval, a two-sided Mann–Whitney p-value and
 * a verdict (the unpaired check, and --baseline's changes). No I/O.
 *
 * Libraries: simple-statistics (no dependencies, ships its types) gives the median, the sample
 * standard deviation, the type-7 quantile and erf, so those numerics are not ours to get wrong.
 * It has no bootstrap and no Mann–Whitney p-value (its wilcoxonRankSum returns the rank sum only),
 * and its cumulativeStdNormalProbability reads a table at 2-decimal z, so this file writes:
 * - the bootstrap, drawing from our mulberry32 (src/determinism.js) so that the same inputs and
 *   seed give the same interval on every machine and JS engine;
 * - the exact null distribution of U, by counting;
 * - the normal CDF as ½(1 + erf(z/√2)) on the library's erf (fractional error < 1.2e-7).
 *
 * Percentile intervals use the type-7 quantile (R's default, numpy's "linear"): the p-quantile of
 * the sorted bootstrap statistics s[0..B-1] is s[h] interpolated linearly, h = (B − 1)·p.
 */
import { erf, median as libMedian, medianSorted, quantileSorted, sampleStandardDeviation } from "simple-statistics";
import { mulberry32 } from "../determinism.js";
import { medianInterval } from "./order-statistics";

/** A CV above this marks a case's metric as noisy (docs/design.md §13). */
export const NOISY_CV = 0.03;
/** A difference needs p below this (and an interval excluding 1) to get a verdict. */
export const ALPHA = 0.05;
export const RESAMPLES = 10_000;
export const LEVEL = 0.95;
/** Largest sample, on each side, for which the exact distribution of U is used. */
export const EXACT_MAX = 20;

export type Interval = [lo: number, hi: number];

export interface Summary {
  median: number;
  /** The exact order-statistic interval of the median: at least 95 % from 6 values on, [min, max] below. */
  ci: Interval;
  /** What `ci` covers: at least 0.95 from n = 6; 0.9375 at 5, 0.875 at 4, 0.75 at 3, 0.5 at 2, 0 at 1. Absent in comparisons before it (a bootstrap said 95 %). */
  ci_level: number;
  /** null when n < 2 or the mean is 0. */
  cv: number | null;
  n: number;
}

export interface BootstrapOptions {
  /** @default 10000 */
  resamples?: number;
  /** Recorded beside the result: the same seed gives the same interval. An integer 0…2^32 − 1. */
  seed: number;
  /** @default 0.95 */
  level?: number;
}

export type Verdict = "lower" | "higher" | "no clear difference";

export interface Comparison {
  /** median(a) / median(b). */
  ratio: number;
  ci: Interval;
  p_value: number;
  /** Where a stands relative to b, not whether it is better. */
  verdict: Verdict;
  /** Only when lowerIsBetter was given: the better case, null without a clear difference. */
  better?: "a" | "b" | null;
}

function checkSample(fn: string, name: string, xs: readonly number[]): void {
  if (!Array.isArray(xs) || xs.length === 0) {
    throw new Error(`${fn} needs at least one value in ${name}: got ${Array.isArray(xs) ? "[]" : String(xs)}`);
  }
  const bad = xs.findIndex((x) => typeof x !== "number" || !Number.isFinite(x));
  if (bad >= 0) throw new Error(`${fn} needs finite numbers in ${name}: got ${String(xs[bad])} at index ${bad}`);
}

function checkOptions(fn: string, resamples: number, seed: number, level: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`${fn} needs a seed that is an integer 0…4294967295 (it is recorded with the result): got ${String(seed)}`);
  }
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`${fn} needs resamples to be a positive integer: got ${String(resamples)}`);
  if (!(level > 0 && level < 1)) throw new Error(`${fn} needs level strictly between 0 and 1: got ${String(level)}`);
}

export function median(xs: readonly number[]): number {
  checkSample("median", "xs", xs);
  return libMedian(xs);
}

/** Sample standard deviation ÷ |mean|: |mean| so that a noisy negative metric still reads as noisy. */
export function cv(xs: readonly number[]): number | null {
  checkSample("cv", "xs", xs);
  if (xs.length < 2) return null;
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return mean === 0 ? null : sampleStandardDeviation(xs) / Math.abs(mean);
}

/** One bootstrap draw of the median: n values with replacement, into a reused buffer. */
function resampledMedian(xs: readonly number[], random: () => number, buffer: number[]): number {
  for (let i = 0; i < xs.length; i++) buffer[i] = xs[Math.floor(random() * xs.length)];
  buffer.sort((x, y) => x - y);
  return medianSorted(buffer);
}

function percentileInterval(statistics: Float64Array, level: number): Interval {
  statistics.sort();
  const tail = (1 - level) / 2;
  // quantileSorted only indexes its argument, so a typed array serves as well as an array.
  const sorted = statistics as unknown as number[];
  return [quantileSorted(sorted, tail), quantileSorted(sorted, 1 - tail)];
}

/**
 * Percentile bootstrap interval of the median. Constant data give [c, c]. Not what a case's
 * summary shows: at n = 4 it covers 88 % of the time, n = 3 75 % (summarize's interval is exact).
 */
export function bootstrapMedianCI(xs: readonly number[], { resamples = RESAMPLES, seed, level = LEVEL }: BootstrapOptions): Interval {
  checkSample("bootstrapMedianCI", "xs", xs);
  checkOptions("bootstrapMedianCI", resamples, seed, level);
  const random = mulberry32(seed);
  const buffer = new Array<number>(xs.length);
  const medians = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) medians[r] = resampledMedian(xs, random, buffer);
  return percentileInterval(medians, level);
}

/**
 * A case's median, its exact interval and CV. The interval needs no seed; `_seed` is kept for the
 * callers that pass the comparison's.
 */
export function summarize(xs: readonly number[], _seed?: number): Summary {
  checkSample("summarize", "xs", xs);
  const { ci, level } = medianInterval(xs, LEVEL);
  return { median: median(xs), ci, ci_level: level, cv: cv(xs), n: xs.length };
}

/**
 * median(a) / median(b) with a percentile bootstrap interval; a and b are resampled independently
 * in each iteration (the rounds of two cases are not paired). b must be positive so that no
 * resampled median of b is 0.
 */
export function ratioCI(a: readonly number[], b: readonly number[], { resamples = RESAMPLES, seed, level = LEVEL }: BootstrapOptions): { ratio: number; ci: Interval } {
  checkSample("ratioCI", "a", a);
  checkSample("ratioCI", "b", b);
  const bad = b.findIndex((x) => x <= 0);
  if (bad >= 0) throw new Error(`ratioCI needs every value of b (the denominator) to be positive: got ${b[bad]} at index ${bad}`);
  checkOptions("ratioCI", resamples, seed, level);
  const random = mulberry32(seed);
  const bufferA = new Array<number>(a.length);
  const bufferB = new Array<number>(b.length);
  const ratios = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) ratios[r] = resampledMedian(a, random, bufferA) / resampledMedian(b, random, bufferB);
  return { ratio: libMedian(a) / libMedian(b), ci: percentileInterval(ratios, level) };
}

/**
 * How a ratio of medians changed between two comparisons: (median(a1) / median(b1)) /
 * (median(a2) / median(b2)), with a percentile bootstrap interval from resampling all four samples
 * independently (two comparisons, possibly on two machines, share no rounds). 1 is no change.
 */
export function ratioChangeCI(
  now: { a: readonly number[]; b: readonly number[] },
  before: { a: readonly number[]; b: readonly number[] },
  { resamples = RESAMPLES, seed, level = LEVEL }: BootstrapOptions,
): { change: number; ci: Interval } {
  const samples = [now.a, now.b, before.a, before.b];
  samples.forEach((xs, i) => checkSample("ratioChangeCI", ["now.a", "now.b", "before.a", "before.b"][i], xs));
  for (const [i, xs] of samples.entries()) {
    const bad = xs.findIndex((x) => x <= 0);
    if (bad >= 0) throw new Error(`ratioChangeCI needs positive values: ${["now.a", "now.b", "before.a", "before.b"][i]} has ${xs[bad]} at index ${bad}`);
  }
  checkOptions("ratioChangeCI", resamples, seed, level);
  const random = mulberry32(seed);
  const buffers = samples.map((xs) => new Array<number>(xs.length));
  const changes = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    const [a1, b1, a2, b2] = samples.map((xs, i) => resampledMedian(xs, random, buffers[i]));
    changes[r] = a1 / b1 / (a2 / b2);
  }
  const [a1, b1, a2, b2] = samples.map((xs) => libMedian(xs as number[]));
  return { change: a1 / b1 / (a2 / b2), ci: percentileInterval(changes, level) };
}

/** Midranks of the pooled values and the tie term Σ(t³ − t) over groups of t equal values. */
function midranks(pooled: readonly number[]): { ranks: number[]; ties: number } {
  const order = pooled.map((_, i) => i).sort((i, j) => pooled[i] - pooled[j]);
  const ranks = new Array<number>(pooled.length);
  let ties = 0;
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && pooled[order[end]] === pooled[order[start]]) end++;
    const t = end - start;
    for (let k = start; k < end; k++) ranks[order[k]] = (start + 1 + end) / 2;
    ties += t ** 3 - t;
    start = end;
  }
  return { ranks, ties };
}

/**
 * How many of the C(m + n, m) ways of choosing m of the pooled values as "a" give each doubled
 * rank sum (midranks doubled are integers, so ties cost nothing): counts[s] for s = 2·(rank sum).
 * The permutation null of U with ties, exactly; for m + n ≤ 40 every count is below C(40, 20) < 2^53.
 */
function rankSumCounts(doubledRanks: readonly number[], m: number): Float64Array {
  const max = doubledRanks.reduce((s, r) => s + r, 0);
  // ways[k][s]: subsets of k of the values seen so far with doubled rank sum s.
  const ways = Array.from({ length: m + 1 }, () => new Float64Array(max + 1));
  ways[0][0] = 1;
  for (const r of doubledRanks) {
    for (let k = m; k >= 1; k--) {
      const from = ways[k - 1];
      const to = ways[k];
      for (let s = max - r; s >= 0; s--) if (from[s]) to[s + r] += from[s];
    }
  }
  return ways[m];
}

/**
 * Two-sided Mann–Whitney U test. `u` is U of a: the pairs (x of a, y of b) with x > y, ties
 * counting ½ (scipy's U1; tables list min(u, n_a·n_b − u)).
 *
 * `auto` uses the EXACT permutation distribution when n_a, n_b ≤ 20, the usual case here (R rounds
 * per case), ties included: midranks, and p = P(|U − mn/2| ≥ |u − mn/2|) over every assignment of
 * the pooled values (without ties this is 2·P(U ≤ min(u, mn − u)), the tables' value). A single
 * tie used to send it to the normal approximation, which at [1,2,3] vs [5,6,6,7] gives 0.0497
 * where the exact p is 2/35 = 0.057. Larger samples use the normal approximation with the
 * tie-corrected variance and a continuity correction of ½ (scipy's "asymptotic", R's wilcox.test
 * with correct = TRUE). With n_a = n_b = 3 the smallest exact p is 2/20 = 0.1; R = 4 can reach
 * 2/70, R = 5 2/252.
 */
export function mannWhitney(a: readonly number[], b: readonly number[], { method = "auto" }: { method?: "auto" | "exact" | "normal" } = {}): { u: number; p: number; method: "exact" | "normal" } {
  checkSample("mannWhitney", "a", a);
  checkSample("mannWhitney", "b", b);
  const m = a.length;
  const n = b.length;
  const { ranks, ties } = midranks([...a, ...b]);
  const rankSumA = ranks.slice(0, m).reduce((s, r) => s + r, 0);
  const u = rankSumA - (m * (m + 1)) / 2;
  const exactFits = m <= EXACT_MAX && n <= EXACT_MAX;
  if (method === "exact" && !exactFits) {
    throw new Error(`mannWhitney's exact method needs at most ${EXACT_MAX} values per sample: got n_a = ${m}, n_b = ${n}`);
  }
  if (method === "exact" || (method === "auto" && exactFits)) {
    const counts = rankSumCounts(ranks.map((r) => Math.round(2 * r)), m);
    const total = counts.reduce((s, c) => s + c, 0);
    // U = rank sum − m(m+1)/2, so distances from the mean are the same in doubled rank sums.
    const mean2 = m * (m + n + 1);
    const observed = Math.abs(Math.round(2 * rankSumA) - mean2);
    let tail = 0;
    counts.forEach((c, s) => {
      if (c && Math.abs(s - mean2) >= observed) tail += c;
    });
    return { u, p: Math.min(1, tail / total), method: "exact" };
  }
  const N = m + n;
  const variance = ((m * n) / 12) * (N + 1 - ties / (N * (N - 1)));
  // Every value equal: no order to test, nothing tells the samples apart.
  if (variance <= 0) return { u, p: 1, method: "normal" };
  const z = (Math.abs(u - (m * n) / 2) - 0.5) / Math.sqrt(variance);
  // 2·(1 − Φ(z)) = 1 − erf(z/√2); z ≤ 0 means within the continuity correction of the mean.
  return { u, p: z <= 0 ? 1 : Math.min(1, 1 - erf(z / Math.SQRT2)), method: "normal" };
}

/**
 * A pair of cases (docs/design.md §13): "lower" when a's median is below b's, the ratio's interval lies
 * below 1 and p < 0.05; "higher" likewise above; otherwise "no clear difference".
 */
export function compare(a: readonly number[], b: readonly number[], { seed, resamples = RESAMPLES, lowerIsBetter }: { seed: number; resamples?: number; lowerIsBetter?: boolean }): Comparison {
  checkSample("compare", "a", a);
  checkSample("compare", "b", b);
  const { ratio, ci } = ratioCI(a, b, { seed, resamples });
  const { p } = mannWhitney(a, b);
  const verdict: Verdict =
    p < ALPHA && ratio < 1 && ci[1] < 1 ? "lower" : p < ALPHA && ratio > 1 && ci[0] > 1 ? "higher" : "no clear difference";
  const result: Comparison = { ratio, ci, p_value: p, verdict };
  if (lowerIsBetter !== undefined) {
    result.better = verdict === "no clear difference" ? null : (verdict === "lower") === lowerIsBetter ? "a" : "b";
  }
  return result;
}
