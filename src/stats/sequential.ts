/**
 * Adding rounds until the answer is known, without raising the chance of a false one (docs/design.md §23;
 * issue 26, item 4). After every round from `minRounds` on, each pair of a family is looked at
 * again on the per-round log ratios it has so far, and gets `higher`, `lower`, `equivalent` or
 * `continue`; at `maxRounds` an undecided pair is `inconclusive`. Pure.
 *
 * The procedure is a group-sequential t-test (Lan–DeMets spending, src/stats/t-path.ts), with the
 * same two questions as the fixed-size verdicts of src/stats/paired.ts:
 * - a difference: |T_k| = |mean|·√k/sd beyond c_k at level γ = α_pair/2 per side → lower/higher;
 * - equivalence within the symmetric band ±log(1 + δ): both one-sided tests beyond c_k at level
 *   γ = α_pair (the (1 − 2α_pair) repeated interval inside the band) → equivalent; as in paired.ts
 *   it wins when both hold.
 * c_k spends γ over the looks as γ·(k/maxRounds)^ρ (ρ = 2 by default, between Pocock's shape,
 * which stops large differences a round or two sooner, and O'Brien–Fleming's, which keeps the
 * last look nearly as sharp as a fixed-size test). The boundaries are exact for normal log ratios
 * whatever their spread, at every number of rounds (see t-path.ts): a z boundary would not be at
 * 3–20 rounds.
 *
 * Why the error holds under stopping: at the true mean log ratio μ, the path T_k(μ) = (mean_k −
 * μ)·√k/sd_k has the law the boundaries were computed for, so the intervals mean_k ± c_k·sd_k/√k
 * cover μ at every look at once with the level stated (Jennison and Turnbull's repeated confidence
 * intervals: C. Jennison & B. W. Turnbull, "Interim analyses: the repeated confidence interval
 * approach", JRSS B 1989). Each false verdict needs μ outside its interval at some look: a
 * difference when μ = 0 (chance ≤ α_pair), equivalence when |μ| ≥ the band (≤ α_pair: the
 * one-sided test on μ's side alone fails at its level), the wrong direction (≤ α_pair/2). So
 * whenever the rounds stop — every pair decided, the budget spent, Ctrl-C — a pair's chance of
 * any false verdict is at most α_pair, and the family's at most α with α_pair = α / m over its m
 * pairs (Bonferroni, the divisor paired.ts's step-down starts from). Looks skipped (a round lost
 * to a failed run) only lower it. What it needs fixed in advance: `maxRounds` (the spending is
 * spread over it) and `minRounds`.
 *
 * A pair's verdict is frozen at the first look that reached one, with the interval it rested on;
 * later rounds, run for other pairs, do not reopen it.
 */
import { tBoundaries } from "./t-path";

export type Interval = [lo: number, hi: number];
export type SequentialVerdict = "lower" | "higher" | "equivalent" | "continue" | "inconclusive";

/** The most rounds a design may plan (the boundaries' recursion grows with the looks). */
export const MAX_PLANNED_ROUNDS = 100;

export interface SequentialOptions {
  /** @default 0.05: the family's chance of any false verdict, over every look. */
  alpha?: number;
  /** @default 0.05: the band is ±log(1 + equivalence) on the log ratio (--equivalence, as in paired.ts). */
  equivalence?: number;
  /** The first look (rounds); 3 at the least is sensible: at 2 the t statistic has one degree of freedom. */
  minRounds: number;
  /** The last look, fixed before the first round: α is spent over the looks up to it. */
  maxRounds: number;
  /** @default 2: α spent up to look k is α·(k/maxRounds)^ρ. */
  rho?: number;
  /** True when no round will follow (the budget is spent, or Ctrl-C): undecided pairs are then `inconclusive`. @default false */
  final?: boolean;
}

export interface SequentialPairInput {
  a: string;
  b: string;
  /** log(a/b) per round, in the order the rounds ran; a round lost for this pair is left out. */
  logRatios: readonly number[];
}

export interface SequentialPair {
  a: string;
  b: string;
  verdict: SequentialVerdict;
  /** The rounds of the look the verdict comes from (the latest look while undecided). */
  rounds: number;
  /** The round count at which the pair was decided; null while undecided. */
  decided_at: number | null;
  /** Geometric mean of the per-round ratios a/b at that look. */
  ratio: number;
  /** The repeated confidence interval the verdict rests on, as a ratio (NaN before the first look). */
  interval: Interval;
  /** What that interval covers at every look at once: 1 − α/m for a difference or an undecided pair, 1 − 2α/m for equivalence. */
  level: number;
}

export interface SequentialFamily {
  pairs: SequentialPair[];
  /** Every pair is decided, or the last look (or a `final` call) has been reached. */
  done: boolean;
  /** Each pair's error: α / the number of pairs. */
  alpha_pair: number;
  /** The procedure in one sentence, for the report. */
  method: string;
}

function checkOptions(o: SequentialOptions): Required<SequentialOptions> {
  const { alpha = 0.05, equivalence = 0.05, rho = 2, final = false, minRounds, maxRounds } = o;
  if (!(alpha > 0 && alpha < 0.5)) throw new Error(`alpha must lie strictly between 0 and 0.5: got ${alpha}`);
  if (!(equivalence > 0)) throw new Error(`equivalence must be a positive fraction (0.05 for ±5 %): got ${equivalence}`);
  if (!(rho > 0)) throw new Error(`rho must be positive (2 by default): got ${rho}`);
  if (!(Number.isInteger(minRounds) && minRounds >= 2)) throw new Error(`minRounds must be a whole number of rounds, 2 at least: got ${minRounds}`);
  if (!(Number.isInteger(maxRounds) && maxRounds >= minRounds && maxRounds <= MAX_PLANNED_ROUNDS)) throw new Error(`maxRounds must be a whole number of rounds from minRounds (${minRounds}) to ${MAX_PLANNED_ROUNDS}: got ${maxRounds}`);
  return { alpha, equivalence, rho, final, minRounds, maxRounds };
}

const NONE: Interval = [Number.NaN, Number.NaN];

/** One pair of a family whose pairs are each tested at `alphaPair`: its verdict at the latest look. */
export function sequentialPair(input: SequentialPairInput, alphaPair: number, options: SequentialOptions): SequentialPair {
  const o = checkOptions(options);
  const bad = input.logRatios.findIndex((d) => !Number.isFinite(d));
  if (bad >= 0) throw new Error(`a sequential look needs finite log ratios: ${input.a} / ${input.b} has ${input.logRatios[bad]} at round index ${bad}`);
  const margin = Math.log(1 + o.equivalence);
  const difference = tBoundaries(alphaPair / 2, o.minRounds, o.maxRounds, o.rho);
  const equivalence = tBoundaries(alphaPair, o.minRounds, o.maxRounds, o.rho);
  const last = Math.min(input.logRatios.length, o.maxRounds);
  const base = { a: input.a, b: input.b, decided_at: null, level: 1 - alphaPair };
  if (last < o.minRounds) {
    const ratio = last ? Math.exp(input.logRatios.slice(0, last).reduce((s, d) => s + d, 0) / last) : Number.NaN;
    return { ...base, verdict: o.final ? "inconclusive" : "continue", rounds: last, ratio, interval: NONE };
  }
  // Running mean and sum of squared deviations (Welford), one look per round.
  let mean = 0;
  let squares = 0;
  for (let k = 1; k <= last; k++) {
    const d = input.logRatios[k - 1];
    const step = d - mean;
    mean += step / k;
    squares += step * (d - mean);
    if (k < o.minRounds) continue;
    const se = Math.sqrt(Math.max(0, squares) / (k - 1) / k);
    const [cd, ce] = [difference[k - o.minRounds], equivalence[k - o.minRounds]];
    const around = (c: number): Interval => [Math.exp(mean - c * se), Math.exp(mean + c * se)];
    const look = { rounds: k, ratio: Math.exp(mean) };
    // Strict, as the fixed-size tests' p < α; a spread of 0 decides any mean off 0, and equivalence inside the band.
    if (mean - ce * se > -margin && mean + ce * se < margin) return { ...base, ...look, verdict: "equivalent", decided_at: k, interval: around(ce), level: 1 - 2 * alphaPair };
    if (Math.abs(mean) > cd * se) return { ...base, ...look, verdict: mean < 0 ? "lower" : "higher", decided_at: k, interval: around(cd) };
    if (k === last) {
      const over = k === o.maxRounds || o.final;
      return { ...base, ...look, verdict: over ? "inconclusive" : "continue", interval: around(cd) };
    }
  }
  throw new Error("unreachable: the last look returns");
}

/**
 * A family's pairs (one metric's) after the latest round: each pair's verdict, and whether the
 * rounds can stop. Call it after every round with every pair's log ratios so far.
 */
export function sequentialFamily(pairs: readonly SequentialPairInput[], options: SequentialOptions): SequentialFamily {
  const o = checkOptions(options);
  const m = Math.max(1, pairs.length);
  const alphaPair = o.alpha / m;
  const out = pairs.map((p) => sequentialPair(p, alphaPair, o));
  const longest = Math.max(0, ...pairs.map((p) => p.logRatios.length));
  return {
    pairs: out,
    done: o.final || longest >= o.maxRounds || out.every((p) => p.verdict !== "continue"),
    alpha_pair: alphaPair,
    method: sequentialMethod(o, m),
  };
}

const percent = (x: number) => `${Number((x * 100).toPrecision(3))} %`;

/** The procedure as the report states it. */
export function sequentialMethod(options: SequentialOptions, pairs: number): string {
  const o = checkOptions(options);
  const m = Math.max(1, pairs);
  return `rounds added until decided: group-sequential t-tests on the per-round log ratios, a look after every round from ${o.minRounds} to ${o.maxRounds}, `
    + `α spent as α·(k/${o.maxRounds})^${o.rho} (Lan–DeMets), boundaries exact for normal log ratios of unknown spread; `
    + `${m === 1 ? "one pair, tested at" : `${m} pairs, each tested at ${percent(o.alpha)}/${m} =`} ${percent(o.alpha / m)}; equivalence within ±log(1 + ${o.equivalence}); `
    + `the chance of any false verdict in the family, whenever the rounds stopped, at most ${percent(o.alpha)}; each interval is a repeated confidence interval, covering at every look at once`;
}
