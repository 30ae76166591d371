/**
 * The rounds of a comparison (docs/design.md §13, §18, §23): their shuffled orders, the equal offered load
 * from a warm probe of every target, and each round's line through a target's two operating points.
 */
import { join } from "node:path";
import type { Config } from "../config";
import { mulberry32 } from "../determinism.js";
import { durationSeconds } from "../run/load";
import { type RunResult, writeResult } from "../run/results";
import { cpuMsPerRequest, inCaseTotal, okRps } from "../run/run-result";
import { splitOfRound } from "./cost-split";
import { targetOf } from "./verdicts";

/** Fisher–Yates with a seeded generator: the same seed gives the same order on every machine. */
export function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The orders of `rounds` rounds of `labels`, shuffled anew in each round from `seed`. */
export function roundOrders(labels: string[], rounds: number, seed: number): string[][] {
  const random = mulberry32(seed);
  return Array.from({ length: rounds }, () => shuffled(labels, random));
}

/**
 * A target runs at this share of the slowest target's warm closed-model throughput when no rate is
 * given: at half of it (one probe run's figure) the slowest target's latency kept climbing in 2 of
 * 4 rounds here (no_steady_state), so 0.4, where it settles.
 */
export const RATE_FRACTION = 0.4;

/**
 * The probe's measured window: the runs' own, at most PROBE_SECONDS. It only sets the rate (a
 * fraction of the slowest throughput, where a few per cent either way change nothing), after the
 * same warm-up as a run; hundreds of requests at the closed model's VUs are enough for that.
 */
export const PROBE_SECONDS = 2;
export const probeWindow = (duration: string) => (durationSeconds(duration) > PROBE_SECONDS ? `${PROBE_SECONDS}s` : duration);

/**
 * The equal offered load every target sustains: `fraction` × the slowest target's closed-model
 * throughput (successful requests/s) in the probe, rounded down, at least 1. Targets with no
 * successful request are left out of the minimum and named.
 */
export function equalRate(closed: { target: string; okRps: number | null }[], fraction = RATE_FRACTION, where = "round 1"): { rate: number; from: string } {
  const usable = closed.filter((c) => typeof c.okRps === "number" && c.okRps > 0) as { target: string; okRps: number }[];
  if (!usable.length) throw new Error(`no target served a successful request in the closed-model probe (${closed.map((c) => c.target).join(", ")}): no rate every target sustains`);
  const slowest = usable.reduce((s, c) => (c.okRps < s.okRps ? c : s));
  const rate = Math.max(1, Math.floor(fraction * slowest.okRps));
  const without = closed.filter((c) => !usable.includes(c as { target: string; okRps: number })).map((c) => c.target);
  return { rate, from: `${fraction} × the slowest target's closed-model throughput in ${where} (${slowest.target}, ${slowest.okRps.toFixed(1)} req/s)${without.length ? `; ${without.join(", ")} served none and are left out of it` : ""}` };
}

/**
 * With both operating points in a round, each target's open-model run carries the line through its
 * two points (fixed cost per second, marginal CPU per request): the marginal cost is then a metric
 * paired by round like any other. Written back into the run's result file.
 */
export function attachCostSplits(config: Config, done: { file: string; round: number; result: RunResult }[], round: number, targets: string[]) {
  for (const target of targets) {
    const mine = done.filter((d) => d.round === round && targetOf(d.result) === target);
    const closed = mine.find((d) => d.result.mode !== "rate");
    const open = mine.find((d) => d.result.mode === "rate");
    if (!closed || !open) continue;
    const point = (r: RunResult) => ({ rps: okRps(r) ?? 0, cpuMs: cpuMsPerRequest(r, inCaseTotal) ?? 0 });
    const split = splitOfRound(point(closed.result), point(open.result));
    if (!split) continue;
    open.result.extra.cost_split = { ...split, from: `the line through this round's two runs (${closed.file} at ${point(closed.result).rps} requests/s, this one)` };
    writeResult(join(config.resultsDir, open.file), open.result);
  }
}
