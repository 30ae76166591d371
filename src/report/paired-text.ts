/**
 * How the report words a paired comparison (src/report/report-verdicts.ts writes the sentences):
 * numbers at a readable precision, a pair seen from either side, comparisons written before the
 * symmetric band read as they were made, the interval a verdict rests on, and what an undecided
 * pair would take. Pure.
 */
import { EQUIVALENCE, type PairedComparison } from "../stats/paired";
import { detectable, roundsToDifference, roundsToEquivalence } from "../stats/sizing";
import type { Comparison } from "../plans/verdicts";

/** A number at a readable precision: whole above 100, one decimal above 10, else `small` decimals. */
export const fixed = (x: number, small = 3) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(small));
/** Decimals for a value of this size, so a median and its interval read alike: 12.3 [11.0–13.5], 2.14 [2.01–2.30]. */
const digitsFor = (x: number) => (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : Math.abs(x) >= 1 ? 2 : 3);
/**
 * "12.3 [11.0–13.5]": a median and its interval at one precision; "12.3 [11.0–13.5] (88 %)" when
 * the interval covers less than 95 % (fewer than 6 values); the median alone for one value.
 */
export const withInterval = (median: number, ci: [number, number], level = 0.95) => {
  const d = digitsFor(median);
  if (level <= 0) return median.toFixed(d);
  return `${median.toFixed(d)} [${ci[0].toFixed(d)}–${ci[1].toFixed(d)}]${level < 0.95 - 1e-9 ? ` (${percent(level)})` : ""}`;
};
/** A level as a reader says it: 95 %, 90 %, 98.3 %. */
export const percent = (level: number) => `${Number((level * 100).toFixed(1))} %`;
export const p = (x: number) => (x < 0.001 ? "p < 0.001" : `p = ${x.toFixed(3)}`);
export const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`;

/** b / a: the same pair seen from the other side (intervals inverted, lower ↔ higher). */
export function inverted(c: PairedComparison): PairedComparison {
  const flip = { lower: "higher", higher: "lower" } as const;
  return {
    ...c,
    ratio: 1 / c.ratio,
    ci: [1 / c.ci[1], 1 / c.ci[0]],
    ...(c.verdict_ci ? { verdict_ci: [1 / c.verdict_ci[1], 1 / c.verdict_ci[0]] as [number, number] } : {}),
    verdict: c.verdict === "lower" || c.verdict === "higher" ? flip[c.verdict] : c.verdict,
    per_round: c.per_round.map((r) => ({ round: r.round, a: r.b, b: r.a, ratio: 1 / r.ratio })),
  };
}

/** The equivalence margin δ of a comparison (±δ on the ratio, symmetric on the log ratio). */
export const marginOf = (c: Comparison) => c.analysis?.equivalence ?? EQUIVALENCE;
/** "±5 %": the band as the report names it. */
export const bandText = (c: Comparison) => `±${Math.round(marginOf(c) * 1000) / 10} %`;

/**
 * A pair as the report reads it. Comparisons written before the symmetric band keep their verdicts
 * and their 95 % interval; what an undecided pair would take is recomputed from its spread, at
 * 80 % power, with the metric's pairs as the family.
 */
export function read(c: Comparison, key: string, x: PairedComparison): PairedComparison {
  if (x.verdict_ci && x.verdict_level !== undefined && x.detectable !== undefined) return x;
  const pairs = (c.metrics[key]?.pairs ?? []).filter((p) => p.paired && p.paired.rounds >= 2 && p.paired.sd_log !== null).length || 1;
  const margin = Math.log(1 + marginOf(c));
  const mean = Math.log(x.ratio);
  const open = x.verdict === "inconclusive" && x.rounds >= 2 && x.sd_log !== null;
  return {
    ...x,
    verdict_ci: x.ci,
    verdict_level: 0.95,
    detectable: x.sd_log === null ? null : detectable(x.sd_log, x.rounds, pairs),
    rounds_to_difference: open && Math.abs(mean) >= margin ? roundsToDifference(mean, x.sd_log!, pairs) : null,
    rounds_to_equivalence: open && Math.abs(mean) < margin ? roundsToEquivalence(mean, x.sd_log!, margin, pairs) : null,
  };
}

/** The paired comparison of target `a` against `b` in a metric, whichever order it was stored in. */
export function pairedOf(c: Comparison, key: string, a: string, b: string): PairedComparison | null {
  const pairs = c.metrics[key]?.pairs ?? [];
  const direct = pairs.find((x) => x.a === a && x.b === b)?.paired;
  if (direct) return read(c, key, direct);
  const reverse = pairs.find((x) => x.a === b && x.b === a)?.paired;
  return reverse ? inverted(read(c, key, reverse)) : null;
}

/** "98.3 % CI 0.97–1.08": the interval a verdict rests on, with its level. */
export const verdictInterval = (x: PairedComparison, digits = 2) => `${percent(x.verdict_level ?? 0.95)} CI ${fixed(x.verdict_ci![0], digits)}–${fixed(x.verdict_ci![1], digits)}`;

/**
 * What an undecided pair would take: the difference these rounds detect, and the rounds a new
 * comparison would need at this ratio and spread, both at 80 % power. A new comparison, not these
 * rounds extended: adding rounds until a verdict comes raises the chance of a false one.
 */
export function needs(x: PairedComparison): string {
  if (x.rounds < 2) return `${x.rounds} usable round(s): at least 2 are needed`;
  const detects = x.detectable == null ? "" : `${x.rounds} rounds detect ±${pct(x.detectable)} with 80 % power`;
  const what = x.rounds_to_equivalence != null ? `show equivalence at this ratio` : `decide this ratio`;
  const rounds = x.rounds_to_equivalence ?? x.rounds_to_difference;
  const more = rounds != null ? `a new comparison of about ${rounds} rounds would ${what} with 80 % power` : x.sd_log ? "more than 500 rounds would be needed at this ratio" : "";
  return [detects, more].filter(Boolean).join("; ");
}
