/**
 * `compare --until-decided` (docs/design.md §23): after each round from the first look, the pairs
 * of the metrics it adds rounds for go through the group-sequential t-tests of
 * src/stats/sequential.ts, and their verdicts replace the fixed-size ones (those would not hold
 * after adding rounds until decided). Pure.
 */
import type { RunResult } from "../run/results";
import { analyse, METRICS, phaseOf as phaseOfRun, targetOf } from "./verdicts";
import { sequentialFamily } from "../stats/sequential";

/** The metrics `--until-decided` adds rounds for: what a request costs and what a target serves. */
export const UNTIL_DECIDED_METRICS = ["cpu_ms_total", "ok_rps"];

/**
 * One sequential look after `round`: per metric of UNTIL_DECIDED_METRICS, every pair of targets
 * with its per-round log ratios so far (a round where either run is left out, or has no value, is
 * skipped for that pair), through src/stats/sequential.ts.
 */
export function sequentialLook(done: { round: number; result: RunResult }[], targets: string[], round: number, o: { minRounds: number; maxRounds: number; equivalence?: number; final: boolean }) {
  const usable = (r: RunResult) => r.status === "complete" && !r.flags.some((f) => f === "errors" || f === "no_steady_state");
  const families = UNTIL_DECIDED_METRICS.map((key) => {
    const metric = METRICS[key];
    const phase = metric.phases.find((ph) => done.some((d) => phaseOfRun(d.result) === ph));
    const value = (t: string, k: number) => {
      const d = done.find((x) => x.round === k && targetOf(x.result) === t && phaseOfRun(x.result) === phase && usable(x.result));
      const v = d ? metric.pick(d.result) : null;
      return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;
    };
    const pairs = targets.flatMap((a, i) => targets.slice(i + 1).map((b) => ({
      a, b,
      logRatios: Array.from({ length: round }, (_, k) => [value(a, k + 1), value(b, k + 1)] as const).flatMap(([x, y]) => (x !== null && y !== null ? [Math.log(x / y)] : [])),
    })));
    return { key, phase, family: sequentialFamily(pairs, { minRounds: o.minRounds, maxRounds: o.maxRounds, equivalence: o.equivalence, final: o.final }) };
  });
  return { families, method: families[0]?.family.method ?? "" };
}

/** The sequential verdicts replace the fixed-size ones of their metrics (those would not hold after adding rounds until decided). */
export function applySequential(c: ReturnType<typeof analyse>, look: ReturnType<typeof sequentialLook>) {
  for (const { key, family } of look.families) {
    for (const pair of c.metrics[key]?.pairs ?? []) {
      const s = family.pairs.find((p) => (p.a === pair.a && p.b === pair.b) || (p.a === pair.b && p.b === pair.a));
      if (!s || !pair.paired) continue;
      const flip = s.a !== pair.a;
      const verdict = s.verdict === "continue" ? "inconclusive" : flip && (s.verdict === "lower" || s.verdict === "higher") ? (s.verdict === "lower" ? "higher" : "lower") : s.verdict;
      pair.paired.verdict = verdict as typeof pair.paired.verdict;
      pair.paired.verdict_ci = flip ? [1 / s.interval[1], 1 / s.interval[0]] : s.interval;
      pair.paired.verdict_level = s.level;
    }
  }
}
