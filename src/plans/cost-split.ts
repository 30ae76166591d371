/**
 * How much of a target's CPU per request at the equal offered load is idle cost (docs/design.md
 * §20, §23). Every round of a comparison measures each target at two loads: its closed-model
 * throughput X and the offered rate R. Through the two points of CPU per second (cores) runs the
 * cost model's line, cores = fixed + marginal × rate; at R, fixed ÷ cores(R) is the share of its
 * CPU per request that the line does not put on requests: mostly that a request arriving alone
 * costs more than one among many; little of it is what the processes use at rest (docs/noise.md).
 * Per round, then the median over rounds: paired as the verdicts are.
 */
import { inCaseTotal, cpuMsPerRequest, okRps } from "../run/run-result";
import type { RunResult } from "../run/results";

export interface CostSplit {
  target: string;
  /** Rounds with both points, apart enough to draw a line (X ≥ 1.2 R). */
  rounds: number;
  /** Median CPU per second with no request (cores): the line's intercept. */
  fixed_cores: number;
  /** Median CPU per request beyond the fixed part (ms): the line's slope. */
  marginal_ms: number;
  /** Median CPU per request at the offered rate (ms), the headline figure. */
  cpu_ms_at_rate: number;
  /** Median share of that figure which is fixed cost. */
  fixed_share_at_rate: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** The line through one round's two points: (rate, cores) at the closed model's throughput and at R. */
export function splitOfRound(closed: { rps: number; cpuMs: number }, open: { rps: number; cpuMs: number }) {
  if (!(closed.rps >= 1.2 * open.rps) || open.rps <= 0) return null;
  const [c1, c2] = [(closed.cpuMs * closed.rps) / 1000, (open.cpuMs * open.rps) / 1000];
  const marginal = (c1 - c2) / (closed.rps - open.rps);
  const fixed = c2 - marginal * open.rps;
  return { fixed_cores: fixed, marginal_ms: marginal * 1000, cpu_ms_at_rate: open.cpuMs, fixed_share_at_rate: c2 > 0 ? fixed / c2 : 0 };
}

/** Each target's split, from the comparison's runs (`target` names each result's column). */
export function costSplits(done: { round: number; result: RunResult }[], targets: string[], targetOf: (r: RunResult) => string): CostSplit[] {
  const out: CostSplit[] = [];
  for (const target of targets) {
    const rounds = [...new Set(done.map((d) => d.round))];
    const splits = rounds.flatMap((round) => {
      const mine = done.filter((d) => d.round === round && targetOf(d.result) === target && d.result.status === "complete" && !d.result.flags.includes("errors"));
      const closed = mine.find((d) => d.result.mode !== "rate")?.result;
      const open = mine.find((d) => d.result.mode === "rate")?.result;
      const point = (r: RunResult | undefined) => (r ? { rps: okRps(r) ?? 0, cpuMs: cpuMsPerRequest(r, inCaseTotal) ?? 0 } : null);
      const [a, b] = [point(closed), point(open)];
      const s = a && b ? splitOfRound(a, b) : null;
      return s ? [s] : [];
    });
    if (!splits.length) continue;
    out.push({
      target,
      rounds: splits.length,
      fixed_cores: round(median(splits.map((s) => s.fixed_cores)), 3),
      marginal_ms: round(median(splits.map((s) => s.marginal_ms)), 3),
      cpu_ms_at_rate: round(median(splits.map((s) => s.cpu_ms_at_rate)), 3),
      fixed_share_at_rate: round(median(splits.map((s) => s.fixed_share_at_rate)), 3),
    });
  }
  return out;
}

/** The first screen's lines: the rate, where it came from, and each target's split at it. */
export function costSplitLines(splits: CostSplit[], rate: number | undefined): string[] {
  if (!splits.length || rate === undefined) return [];
  const head = `At ${rate} requests/s, how much of each target's CPU per request is fixed cost (the line's intercept: CPU per second that does not grow with the rate while requests arrive — not what the processes use at rest, which is far less; mostly that a request arriving alone costs more than one among many, docs/noise.md), from the line through its two operating points in each round (medians over rounds):`;
  const rows = splits.map((s) => `${s.target}: ${s.cpu_ms_at_rate.toFixed(2)} ms per request = ${Math.round(s.fixed_share_at_rate * 100)} % fixed (${(s.fixed_cores * 1000).toFixed(0)} ms of CPU per second) + ${s.marginal_ms.toFixed(2)} ms per request (${s.rounds} rounds)`);
  return [head, ...rows];
}
