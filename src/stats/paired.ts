/**
 * Paired statistics over rounds (DESIGN §18). A comparison's round runs every target once, back
 * to back, so the machine's speed of that moment is shared by the targets of the round: the unit
 * is the round. Per pair the per-round ratio a/b; the estimate is their geometric mean; the
 * interval and the p-value come from Student's t on the log ratios (the paired t-test). Pure.
 *
 * Why t on log ratios: at the R = 4–10 rounds a comparison has, it is the procedure whose
 * interval exists at every R ≥ 2 and is exact when the log ratios are normal; CPU time per request
 * is a product of rates, so its noise is multiplicative and its log close to normal (the recorded
 * A/A rounds in test/fixtures/aa-rounds.json are checked against this by simulation). Beside it,
 * where R ≥ 6, the exact sign-flip permutation p of the same mean (no normality assumed); below 6
 * rounds no permutation p can go under 0.05 (2/32 at R = 5), so it says nothing there.
 *
 * Verdicts, δ the equivalence margin (default 5 %):
 * - `equivalent` when the whole 95 % interval lies within [1 − δ, 1 + δ] — a difference this small
 *   is reported as its ratio, never as "lower" or "higher";
 * - `lower` / `higher` when the interval excludes 1 and the p-value, Holm-adjusted over the pairs
 *   of one metric (the multiplicity policy: each metric is a family, its pairs corrected together),
 *   is below 0.05;
 * - `inconclusive` otherwise, with the smallest difference this R resolves and about how many
 *   rounds would resolve the observed one.
 */

import { tQuantile, tTwoSided } from "./distributions";

export type Interval = [lo: number, hi: number];
export type PairedVerdict = "lower" | "higher" | "equivalent" | "inconclusive";

export const ALPHA = 0.05;
export const LEVEL = 0.95;
/** @default 0.05: the ratio's interval within 0.95–1.05 is `equivalent`. */
export const EQUIVALENCE = 0.05;
/** Rounds from which the sign-flip permutation p is given beside the t-test's. */
export const SIGN_FLIP_FROM = 6;
/** Rounds-needed estimates stop here: beyond it, "more than" this many. */
export const MAX_ROUNDS_NEEDED = 500;

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
  let count = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += mask & (1 << i) ? -differences[i] : differences[i];
    // The tolerance keeps the observed pattern itself counted despite rounding.
    if (Math.abs(sum) >= observed - 1e-12 * Math.max(1, observed)) count++;
  }
  return count / 2 ** n;
}

/** Holm's step-down adjustment of p-values (order kept): controls the family-wise error. */
export function holm(ps: readonly number[]): number[] {
  const order = ps.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
  const adjusted = new Array<number>(ps.length);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (ps.length - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

/** The smallest ratio difference (as a fraction, e.g. 0.12 = 12 %) that R rounds at this spread resolve. */
export function resolvable(sdLog: number, rounds: number, level = LEVEL): number | null {
  if (rounds < 2) return null;
  return Math.exp((tQuantile(1 - (1 - level) / 2, rounds - 1) * sdLog) / Math.sqrt(rounds)) - 1;
}

/** About how many rounds resolve a log ratio `meanLog` at spread `sdLog`: null when it is 0. */
export function roundsNeeded(meanLog: number, sdLog: number, level = LEVEL): number | null {
  if (meanLog === 0) return null;
  if (sdLog === 0) return 2;
  for (let r = 2; r <= MAX_ROUNDS_NEEDED; r++) {
    if ((tQuantile(1 - (1 - level) / 2, r - 1) * sdLog) / Math.sqrt(r) < Math.abs(meanLog)) return r;
  }
  return null;
}

export interface PairedComparison {
  /** Rounds in which both targets had a usable value. */
  rounds: number;
  /** Geometric mean of the per-round ratios a/b. */
  ratio: number;
  ci: Interval;
  /** Paired t-test on the log ratios, two-sided. */
  p_value: number;
  /** Holm-adjusted over the pairs of the same metric (set by pairedFamily). */
  p_adjusted: number;
  /** The exact sign-flip permutation p, where rounds ≥ 6. */
  p_sign_flip: number | null;
  /** Sample standard deviation of the per-round log ratios. */
  sd_log: number | null;
  /** Smallest difference (fraction) these rounds resolve at this spread. */
  resolvable: number | null;
  /** About how many rounds would resolve the observed ratio; null when it is 1 or beyond reach. */
  rounds_needed: number | null;
  verdict: PairedVerdict;
  per_round: { round: number; a: number; b: number; ratio: number }[];
  /** Rounds that gave no pair, and why. */
  lost: { round: number; why: string }[];
}

export interface PairedInput {
  /** Per round: the value of a and of b (null when that target's run is missing or not usable). */
  rounds: { round: number; a: number | null; b: number | null; whyA?: string; whyB?: string }[];
}

/** A pair's per-round ratios, estimate, interval and p-value, before the family's adjustment. */
export function pairedRatio(input: PairedInput, { equivalence = EQUIVALENCE, level = LEVEL }: { equivalence?: number; level?: number } = {}): PairedComparison {
  const perRound: PairedComparison["per_round"] = [];
  const lost: PairedComparison["lost"] = [];
  for (const r of input.rounds) {
    const why = r.a === null ? (r.whyA ?? "a has no value") : r.b === null ? (r.whyB ?? "b has no value")
      : !(r.a > 0 && r.b > 0) ? `a ratio needs positive values: ${r.a} / ${r.b}` : null;
    if (why) lost.push({ round: r.round, why });
    else perRound.push({ round: r.round, a: r.a!, b: r.b!, ratio: r.a! / r.b! });
  }
  const n = perRound.length;
  const empty = { rounds: n, p_adjusted: 1, p_sign_flip: null, resolvable: null, rounds_needed: null, verdict: "inconclusive" as const, per_round: perRound, lost };
  if (n === 0) return { ...empty, ratio: Number.NaN, ci: [Number.NaN, Number.NaN], p_value: 1, sd_log: null };
  const logs = perRound.map((r) => Math.log(r.ratio));
  if (n === 1) return { ...empty, ratio: perRound[0].ratio, ci: [Number.NaN, Number.NaN], p_value: 1, sd_log: null };
  const t = pairedT(logs, level);
  const ci: Interval = [Math.exp(t.ci[0]), Math.exp(t.ci[1])];
  const result: PairedComparison = {
    rounds: n,
    ratio: Math.exp(t.mean),
    ci,
    p_value: t.p,
    p_adjusted: t.p,
    p_sign_flip: n >= SIGN_FLIP_FROM && n <= 20 ? signFlipP(logs) : null,
    sd_log: t.sd,
    resolvable: resolvable(t.sd, n, level),
    rounds_needed: roundsNeeded(t.mean, t.sd, level),
    verdict: "inconclusive",
    per_round: perRound,
    lost,
  };
  result.verdict = verdictOf(result, equivalence);
  return result;
}

/** The verdict of a pair from its interval and (adjusted) p-value. */
export function verdictOf(c: Pick<PairedComparison, "ci" | "p_adjusted" | "rounds">, equivalence = EQUIVALENCE): PairedVerdict {
  if (c.rounds < 2 || !Number.isFinite(c.ci[0]) || !Number.isFinite(c.ci[1])) return "inconclusive";
  if (c.ci[0] >= 1 - equivalence && c.ci[1] <= 1 + equivalence) return "equivalent";
  if (c.p_adjusted < ALPHA && c.ci[1] < 1) return "lower";
  if (c.p_adjusted < ALPHA && c.ci[0] > 1) return "higher";
  return "inconclusive";
}

/** The pairs of one metric as a family: Holm-adjusted p-values, and the verdicts that follow from them. */
export function pairedFamily(pairs: PairedComparison[], equivalence = EQUIVALENCE): PairedComparison[] {
  const adjusted = holm(pairs.map((p) => p.p_value));
  return pairs.map((p, i) => {
    const q = { ...p, p_adjusted: adjusted[i] };
    return { ...q, verdict: verdictOf(q, equivalence) };
  });
}
