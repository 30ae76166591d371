/**
 * Paired statistics over rounds (docs/design.md §18, §23). A comparison's round runs every target once,
 * back to back, so the machine's speed of that moment is shared by the targets of the round: the
 * unit is the round. Per pair the per-round ratio a/b; the estimate is their geometric mean; the
 * tests and intervals come from Student's t on the log ratios. Pure.
 *
 * Why t on log ratios: at the R = 4–10 rounds a comparison has, it is the procedure whose
 * interval exists at every R ≥ 2 and is exact when the log ratios are normal; CPU time per request
 * is a product of rates, so its noise is multiplicative and its log close to normal (the recorded
 * A/A rounds in test/fixtures/aa-rounds.json are checked against this by simulation). Beside it,
 * where R ≥ 6, the exact sign-flip permutation p of the same mean (no normality assumed); below 6
 * rounds no permutation p can go under 0.05 (2/32 at R = 5), so it says nothing there.
 *
 * Two questions per pair, each a test at α = 5 %:
 * - a difference: the paired t-test of "the ratio is 1" (two-sided) → `lower` or `higher`;
 * - equivalence within a symmetric band on the log ratio, |log(a/b)| < log(1 + δ) (δ = 5 % by
 *   default: ×0.952 to ×1.05, the same band whichever target is a), by two one-sided tests
 *   (TOST) → `equivalent`. At level α that is the (1 − 2α) interval inside the band.
 * Equivalent wins when both hold: a difference this small is reported as its ratio. Otherwise the
 * pair is `inconclusive`, with the difference these rounds detect and the rounds a new comparison
 * needs, both at 80 % power (src/stats/sizing.ts).
 *
 * Multiplicity: a metric's pairs are one family, and each pair brings both hypotheses. At most one
 * of a pair's two can be true (the ratio cannot be 1 and outside the band), so at most m of the 2m
 * are true, and Holm's step-down over all 2m p-values divides α by min(m, hypotheses left) instead
 * of the count left (Shaffer's refinement of Holm): the family-wise error stays below α, and two
 * targets (m = 1) are tested at α itself.
 *
 * Every verdict names the interval it rests on: the t interval at the level of the step that
 * decided it (1 − α/h for a difference, 1 − 2α/h for equivalence, h the step's divisor); an
 * undecided pair shows the wider of the two at the divisor where the step-down stopped, which
 * contains 1 and does not lie inside the band. An interval that excludes 1 is never shown
 * beside `inconclusive`.
 */

import { tQuantile, tTwoSided, tUpper } from "./distributions";
import { detectable, MAX_ROUNDS_NEEDED, roundsToDifference, roundsToEquivalence } from "./sizing";

export type Interval = [lo: number, hi: number];
export type PairedVerdict = "lower" | "higher" | "equivalent" | "inconclusive";

export const ALPHA = 0.05;
export const LEVEL = 0.95;
/** @default 0.05: the band ±log(1.05) on the log ratio, ×0.952 to ×1.05 on the ratio. */
export const EQUIVALENCE = 0.05;
/** Rounds from which the sign-flip permutation p is given beside the t-test's. */
export const SIGN_FLIP_FROM = 6;
export { MAX_ROUNDS_NEEDED };

// --- The paired procedure ----------------------------------------------------------------------

export interface PairedT {
  n: number;
  mean: number;
  sd: number;
  /** mean ± t·sd/√n at `level`. */
  ci: Interval;
  t: number;
  p: number;
}

/** One-sample t on paired differences: mean, its interval and the two-sided p of mean = 0. */
export function pairedT(differences: readonly number[], level = LEVEL): PairedT {
  const n = differences.length;
  if (n < 2) throw new Error(`pairedT needs at least 2 paired differences: got ${n}`);
  const bad = differences.findIndex((d) => !Number.isFinite(d));
  if (bad >= 0) throw new Error(`pairedT needs finite differences: got ${differences[bad]} at index ${bad}`);
  const mean = differences.reduce((s, d) => s + d, 0) / n;
  const sd = Math.sqrt(differences.reduce((s, d) => s + (d - mean) ** 2, 0) / (n - 1));
  const se = sd / Math.sqrt(n);
  // Every round gave the same difference: the interval is that value, and p is 0 unless it is 0.
  if (se === 0) return { n, mean, sd: 0, ci: [mean, mean], t: mean === 0 ? 0 : Math.sign(mean) * Infinity, p: mean === 0 ? 1 : 0 };
  const q = tQuantile(1 - (1 - level) / 2, n - 1);
  const t = mean / se;
  return { n, mean, sd, ci: [mean - q * se, mean + q * se], t, p: tTwoSided(t, n - 1) };
}

/**
 * The exact sign-flip permutation p of a mean: under "no difference" each round's log ratio is as
 * likely negated, so p is the share of the 2^n sign patterns whose |mean| reaches the observed one.
 */
export function signFlipP(differences: readonly number[]): number {
  const n = differences.length;
  if (n > 20) throw new Error(`signFlipP enumerates 2^n patterns and takes at most 20 values: got ${n}`);
  const observed = Math.abs(differences.reduce((s, d) => s + d, 0));
  // The tolerance keeps the observed pattern itself (and its mirror) counted despite rounding.
  const tolerance = 1e-9 * differences.reduce((s, d) => s + Math.abs(d), 0);
  // The patterns in Gray-code order: each differs from the last in one sign, so its sum is one step away.
  let sum = differences.reduce((s, d) => s + d, 0);
  let count = Math.abs(sum) >= observed - tolerance ? 1 : 0;
  for (let i = 1; i < 1 << n; i++) {
    const bit = 31 - Math.clz32(i & -i);
    const flipped = ((i ^ (i >> 1)) >> bit) & 1;
    sum += flipped ? -2 * differences[bit] : 2 * differences[bit];
    if (Math.abs(sum) >= observed - tolerance) count++;
  }
  return count / 2 ** n;
}

/** The smallest difference R rounds at this spread decide with 80 % power, for a pair alone (src/plans/calibration.ts states it). */
export function resolvable(sdLog: number, rounds: number): number | null {
  return detectable(sdLog, rounds);
}

export interface PairedComparison {
  /** Rounds in which both targets had a usable value. */
  rounds: number;
  /** Geometric mean of the per-round ratios a/b. */
  ratio: number;
  /** The estimate's own 95 % t interval, before any correction (the verdict's is `verdict_ci`). */
  ci: Interval;
  /** Paired t-test on the log ratios, two-sided: "the ratio is 1". */
  p_value: number;
  /** p_value adjusted within the metric's family (set by pairedFamily). */
  p_adjusted: number;
  /** Two one-sided tests of "the ratio lies outside the band": the larger of their p-values. Absent before the symmetric band. */
  p_equivalence?: number;
  /** p_equivalence adjusted within the metric's family. */
  p_equivalence_adjusted?: number;
  /** The exact sign-flip permutation p, where rounds ≥ 6. */
  p_sign_flip: number | null;
  /** Sample standard deviation of the per-round log ratios. */
  sd_log: number | null;
  verdict: PairedVerdict;
  /** The interval the verdict rests on and its level (multiplicity-adjusted; see the file's head). Absent before: `ci` was. */
  verdict_ci?: Interval;
  verdict_level?: number;
  /** The smallest difference (fraction of the ratio, either way) these rounds decide with 80 % power in this family. */
  detectable?: number | null;
  /** Undecided outside the band: rounds a new comparison needs to decide the observed ratio with 80 % power. */
  rounds_to_difference?: number | null;
  /** Undecided inside the band: rounds a new comparison needs to show equivalence at the observed ratio with 80 % power. */
  rounds_to_equivalence?: number | null;
  /** Comparisons before 80 % power only: the half-width of the 95 % interval, and the rounds that would bring it under the observed difference. */
  resolvable?: number | null;
  rounds_needed?: number | null;
  per_round: { round: number; a: number; b: number; ratio: number }[];
  /** Rounds that gave no pair, and why. */
  lost: { round: number; why: string }[];
}

export interface PairedInput {
  /** Per round: the value of a and of b (null when that target's run is missing or not usable). */
  rounds: { round: number; a: number | null; b: number | null; whyA?: string; whyB?: string }[];
}

export interface PairedOptions {
  /** @default 0.05: the band is ±log(1 + equivalence) on the log ratio. */
  equivalence?: number;
  /** @default 0.95: α = 1 − level. */
  level?: number;
}

/** The two one-sided tests of |mean| ≥ margin: the larger of their p-values. */
export function tostP(mean: number, sd: number, n: number, margin: number): number {
  if (n < 2) return 1;
  const se = sd / Math.sqrt(n);
  if (se === 0) return Math.abs(mean) < margin ? 0 : 1;
  // H0 mean ≤ −margin, rejected for a large t; H0 mean ≥ margin, for a small one.
  return Math.max(tUpper((mean + margin) / se, n - 1), tUpper((margin - mean) / se, n - 1));
}

/**
 * A pair's per-round ratios, estimate, interval and p-values, before any family: the verdict is
 * left `inconclusive` until pairedFamily decides it.
 */
export function pairedMeasure(input: PairedInput, { equivalence = EQUIVALENCE, level = LEVEL }: PairedOptions = {}): PairedComparison {
  const perRound: PairedComparison["per_round"] = [];
  const lost: PairedComparison["lost"] = [];
  for (const r of input.rounds) {
    const why = r.a === null ? (r.whyA ?? "a has no value") : r.b === null ? (r.whyB ?? "b has no value")
      : !(r.a > 0 && r.b > 0) ? `a ratio needs positive values: ${r.a} / ${r.b}` : null;
    if (why) lost.push({ round: r.round, why });
    else perRound.push({ round: r.round, a: r.a!, b: r.b!, ratio: r.a! / r.b! });
  }
  const n = perRound.length;
  const undecided = { rounds: n, p_value: 1, p_adjusted: 1, p_equivalence: 1, p_equivalence_adjusted: 1, p_sign_flip: null, sd_log: null, verdict: "inconclusive" as const, detectable: null, rounds_to_difference: null, rounds_to_equivalence: null, per_round: perRound, lost };
  const none: Interval = [Number.NaN, Number.NaN];
  if (n === 0) return { ...undecided, ratio: Number.NaN, ci: none, verdict_ci: none, verdict_level: level };
  if (n === 1) return { ...undecided, ratio: perRound[0].ratio, ci: none, verdict_ci: none, verdict_level: level };
  const logs = perRound.map((r) => Math.log(r.ratio));
  const t = pairedT(logs, level);
  const ci: Interval = [Math.exp(t.ci[0]), Math.exp(t.ci[1])];
  const pEq = tostP(t.mean, t.sd, n, Math.log(1 + equivalence));
  return {
    ...undecided,
    ratio: Math.exp(t.mean),
    ci,
    p_value: t.p,
    p_adjusted: t.p,
    p_equivalence: pEq,
    p_equivalence_adjusted: pEq,
    p_sign_flip: n >= SIGN_FLIP_FROM && n <= 20 ? signFlipP(logs) : null,
    sd_log: t.sd,
    verdict_ci: ci,
    verdict_level: level,
  };
}

/** A pair decided alone (a family of one): tested at α itself. */
export function pairedRatio(input: PairedInput, options: PairedOptions = {}): PairedComparison {
  return pairedFamily([pairedMeasure(input, options)], options)[0];
}

/**
 * The step-down over a family's hypotheses (see the file's head): for each, whether it is
 * rejected, its adjusted p and the divisor h its interval is drawn at (the step that rejected it,
 * or the step where the procedure stopped). `most` is the largest number that can be true at once.
 */
export function stepDown(ps: readonly number[], most: number, alpha = ALPHA): { rejected: boolean; adjusted: number; divisor: number }[] {
  const order = ps.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
  const out = new Array<{ rejected: boolean; adjusted: number; divisor: number }>(ps.length);
  let running = 0;
  let stopped: number | null = null;
  order.forEach(({ p, i }, rank) => {
    const divisor = Math.min(most, ps.length - rank);
    running = Math.max(running, Math.min(1, divisor * p));
    if (stopped === null && running >= alpha) stopped = divisor;
    out[i] = { rejected: stopped === null, adjusted: running, divisor: stopped ?? divisor };
  });
  return out;
}

/** Holm's step-down adjustment of p-values (order kept): controls the family-wise error. */
export function holm(ps: readonly number[]): number[] {
  return stepDown(ps, ps.length).map((h) => h.adjusted);
}

/** The t interval of a pair's mean log ratio at `level`, as a ratio interval. */
function ratioInterval(p: PairedComparison, level: number): Interval {
  const mean = Math.log(p.ratio);
  const q = tQuantile(1 - (1 - level) / 2, p.rounds - 1) * (p.sd_log! / Math.sqrt(p.rounds));
  return [Math.exp(mean - q), Math.exp(mean + q)];
}

/**
 * The pairs of one metric as a family: both hypotheses of every pair stepped down together, the
 * verdicts that follow, the interval each verdict rests on, and what the undecided would take.
 */
export function pairedFamily(pairs: PairedComparison[], { equivalence = EQUIVALENCE, level = LEVEL, sizing = true }: PairedOptions & {
  /** @default true; false leaves out what undecided pairs would take (simulations of the verdicts alone). */
  sizing?: boolean;
} = {}): PairedComparison[] {
  const alpha = 1 - level;
  const margin = Math.log(1 + equivalence);
  const tested = pairs.map((p, i) => ({ p, i })).filter(({ p }) => p.rounds >= 2 && p.sd_log !== null);
  const m = tested.length;
  const steps = stepDown(tested.flatMap(({ p }) => [p.p_value, p.p_equivalence ?? tostP(Math.log(p.ratio), p.sd_log!, p.rounds, margin)]), m, alpha);
  const out = pairs.map((p) => ({ ...p }));
  tested.forEach(({ p, i }, k) => {
    const [difference, equivalent] = [steps[2 * k], steps[2 * k + 1]];
    const mean = Math.log(p.ratio);
    const verdict: PairedVerdict = equivalent.rejected ? "equivalent" : difference.rejected ? (mean < 0 ? "lower" : "higher") : "inconclusive";
    const [differenceLevel, equivalenceLevel] = [1 - alpha / difference.divisor, 1 - (2 * alpha) / equivalent.divisor];
    const shown = verdict === "equivalent" ? equivalenceLevel : verdict === "inconclusive" ? Math.max(differenceLevel, equivalenceLevel) : differenceLevel;
    const sd = p.sd_log!;
    out[i] = {
      ...p,
      p_adjusted: difference.adjusted,
      p_equivalence: p.p_equivalence ?? tostP(mean, sd, p.rounds, margin),
      p_equivalence_adjusted: equivalent.adjusted,
      verdict,
      verdict_ci: ratioInterval(p, shown),
      verdict_level: shown,
      detectable: sizing ? detectable(sd, p.rounds, m, alpha) : null,
      // What an undecided pair would take: equivalence when its ratio lies inside the band, a difference outside it.
      rounds_to_difference: sizing && verdict === "inconclusive" && Math.abs(mean) >= margin ? roundsToDifference(mean, sd, m, alpha) : null,
      rounds_to_equivalence: sizing && verdict === "inconclusive" && Math.abs(mean) < margin ? roundsToEquivalence(mean, sd, margin, m, alpha) : null,
    };
  });
  return out;
}
