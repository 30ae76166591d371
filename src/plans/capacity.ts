/**
 * Capacity at an SLO (docs/design.md §14): the highest arrival rate at which a target meets the SLO
 * (a latency percentile at or under a bound) with no dropped iterations and under 0.1 % errors.
 * The search brackets by doubling (or halving, when the first rate already fails), then bisects
 * until the bracket is within 5 %. Every step is a measured run in the open model after a
 * warm-up, with its own result file; every step is also a point of the target's latency curve.
 *
 *   bun src/main.ts capacity CASE [--slo p99=200ms] [--start 20] [--max 5000] [--step 10s] [--warmup 3s] [--repeat R]
 */
import { basename } from "node:path";
import type { CaseName } from "../run/cases";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { durationSeconds, type LoadParams, RATE_VUS, runLoad } from "../run/load";
import type { RunResult } from "../run/results";
import { cpuMsPerRequest, inCaseTotal, okRps } from "../run/run-result";

export interface Slo {
  percentile: "p50" | "p95" | "p99";
  ms: number;
}

/** `p99=200ms`, `p95=0.5s`: a latency percentile and its bound. */
export function parseSlo(text: string): Slo {
  const m = /^(p50|p95|p99)=(\d+(?:\.\d+)?)(ms|s)$/.exec(text.trim());
  const ms = m ? Number(m[2]) * (m[3] === "s" ? 1000 : 1) : 0;
  if (!m || !(ms > 0)) throw new UsageError(`--slo takes PERCENTILE=DURATION with p50, p95 or p99 and ms or s (e.g. p99=200ms), got "${text}"`);
  return { percentile: m[1] as Slo["percentile"], ms };
}

export const sloText = (slo: Slo) => `${slo.percentile} ≤ ${slo.ms} ms`;

/** The error rate a step may have and still meet the SLO (0.1 %). */
export const ERROR_BUDGET = 0.001;
/** The bisection stops when the bracket's width is within this share of its lower end. */
export const PRECISION = 0.05;

export interface CapacityOptions {
  slo: Slo;
  /** The first rate tried (requests/s). */
  start: number;
  /** The search never offers more than this (requests/s). */
  max: number;
  /** Each step's measured run and its warm-up. */
  step: string;
  warmup: string;
  api?: LoadParams["api"];
  /** The bisection's stopping width, as a share of the bracket's lower end. @default PRECISION (5 %) */
  precision?: number;
}

/** One step of a search: a point of the target's latency-against-offered-rate curve. */
export interface Step {
  rate: number;
  file: string;
  meets: boolean;
  /** Why the step misses the SLO, in words (empty when it meets it). */
  misses: string[];
  ok_rps: number | null;
  error_rate: number | null;
  dropped: number | null;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null } | null;
  cpu_ms_total: number | null;
  flags: string[];
}

export interface Search {
  target: string;
  /** The highest rate that met the SLO; null when even the lowest rate tried missed it. */
  capacity: number | null;
  /** [highest rate that met it, lowest that missed it]; null on a side never reached. */
  bracket: [number | null, number | null];
  /** What a reader must know about this search (the maximum reached, the SLO never met). */
  note: string | null;
  steps: Step[];
}

/** Whether a run meets the SLO, and why not. */
export function judge(result: RunResult, slo: Slo): { meets: boolean; misses: string[] } {
  const misses: string[] = [];
  const s = result.summary;
  if (result.status !== "complete" || !s) return { meets: false, misses: [`the run did not complete (${result.status})`] };
  const latency = s.latency_ms[slo.percentile];
  if (latency === null) misses.push(`no ${slo.percentile}: no request completed`);
  else if (!(latency <= slo.ms)) misses.push(`${slo.percentile} ${latency.toFixed(1)} ms > ${slo.ms} ms`);
  if (s.dropped_iterations > 0) misses.push(`${s.dropped_iterations} iterations dropped`);
  if (s.error_rate >= ERROR_BUDGET) misses.push(`${(s.error_rate * 100).toFixed(2)} % errors`);
  return { meets: misses.length === 0, misses };
}

function stepOf(rate: number, path: string, result: RunResult, slo: Slo): Step {
  const s = result.summary;
  return {
    rate,
    file: basename(path),
    ...judge(result, slo),
    ok_rps: okRps(result),
    error_rate: s?.error_rate ?? null,
    dropped: s?.dropped_iterations ?? null,
    latency_ms: s ? { p50: s.latency_ms.p50, p95: s.latency_ms.p95, p99: s.latency_ms.p99 } : null,
    cpu_ms_total: cpuMsPerRequest(result, inCaseTotal),
    flags: result.flags,
  };
}

/**
 * The search for one target. `measure` runs one step (a measured run at `rate`) and returns its
 * file and result; it is a parameter so a comparison can interleave targets and keep the case up.
 */
export async function searchCapacity(
  target: string,
  options: CapacityOptions,
  measure: (rate: number) => Promise<{ path: string; result: RunResult }>,
  log: (line: string) => void,
): Promise<Search> {
  const steps: Step[] = [];
  let lo: number | null = null;
  let hi: number | null = null;
  const tryRate = async (rate: number) => {
    log(`\n--- ${target}: step ${steps.length + 1} at ${rate} requests/s (bracket ${lo ?? "?"}–${hi ?? "?"}, SLO ${sloText(options.slo)}) ---`);
    const { path, result } = await measure(rate);
    const step = stepOf(rate, path, result, options.slo);
    steps.push(step);
    log(`${target} at ${rate}/s: ${step.meets ? "meets the SLO" : `misses it: ${step.misses.join(", ")}`}`);
    if (step.meets) lo = rate;
    else hi = rate;
    return step.meets;
  };
  let note: string | null = null;
  // Bracket upwards by doubling while the SLO holds.
  let rate = Math.min(options.start, options.max);
  while (await tryRate(rate)) {
    if (rate >= options.max) {
      note = `met the SLO at the search's maximum, ${options.max} requests/s: the capacity is at least that (raise --max)`;
      break;
    }
    rate = Math.min(rate * 2, options.max);
  }
  // The first rate missed: halve until one meets it, down to 1 request/s.
  if (lo === null) {
    for (rate = Math.floor(hi! / 2); rate >= 1 && !(await tryRate(rate)); rate = Math.floor(rate / 2));
    if (lo === null) {
      note = `missed the SLO at every rate tried, down to ${steps.at(-1)!.rate} requests/s: ${steps.at(-1)!.misses.join(", ")}`;
      log(`${target}: ${note}`);
      return { target, capacity: null, bracket: [null, hi], note, steps };
    }
  }
  // Bisect until the bracket is within PRECISION of its lower end (or one request/s wide).
  while (hi !== null && lo !== null && hi - lo > Math.max(1, (options.precision ?? PRECISION) * lo)) await tryRate(Math.round((lo + hi) / 2));
  log(`${target}: capacity ${lo} requests/s at ${sloText(options.slo)}${hi !== null ? ` (missed at ${hi}/s)` : ""}`);
  return { target, capacity: lo, bracket: [lo, hi], note, steps };
}

/** One step of a target: the case stays up between steps (the caller starts and stops it). */
export function stepRunner(config: Config, caseName: CaseName, options: CapacityOptions, log: (line: string) => void, runOptions: { column?: string } = {}) {
  return (rate: number) =>
    runLoad(config, { case: caseName, mode: "rate", vus: RATE_VUS, rate, duration: options.step, warmup: options.warmup, api: options.api }, log, { keepDatabase: true, ...runOptions });
}

/** Checks the step's length: a step shorter than 5 s has too few requests for a p99. */
export function checkStep(step: string) {
  if (durationSeconds(step) < 5) throw new UsageError(`--step must be at least 5s (a shorter step has too few requests for a percentile), got "${step}"`);
}
