/**
 * The cost model (docs/design.md §20), pure: per process and per component, CPU-seconds per second
 * (cores) = fixed + marginal × rate, fitted by ordinary least squares over the measured runs at
 * several offered rates (each round at each rate is its own point), with 95 % t-intervals from the
 * fit's standard errors, its residuals and R²; peak PSS per rate (median over rounds). Where two
 * targets' lines cross is src/plans/crossing.ts (from the rounds both ran: each residual keeps its
 * round and offered rate); what serving R requests/s costs is src/plans/cost.ts.
 *
 * The x of a point is the rate served over the measured window (requests ÷ the window's wall
 * seconds), not the offered rate: CPU and requests are then counted over the same seconds, so the
 * slope is CPU per request even when the engine's start-up takes a slice of the window.
 */
import { UsageError } from "../errors";
import { tQuantile } from "../stats/distributions";
import { LEVEL } from "../stats/paired";
import type { RunResult } from "../run/results";
import { componentOf, inCaseTotal } from "../run/run-result";

export type Interval = [lo: number, hi: number];

/** A straight line fitted by least squares, with what its intervals and predictions need. */
export interface Fit {
  n: number;
  /** n − 2: the residual degrees of freedom (0 for two points: a line through them, no interval). */
  df: number;
  /** Cores at rate 0 (CPU-seconds per second). */
  fixed: number;
  /** Cores per request/s = CPU-seconds per request. */
  marginal: number;
  fixed_ci: Interval | null;
  marginal_ci: Interval | null;
  /** Variances and covariance of (fixed, marginal), σ² from the residuals; null when df = 0. */
  var_fixed: number | null;
  var_marginal: number | null;
  cov: number | null;
  /** Residual standard error (cores). */
  sigma: number | null;
  r2: number | null;
  /** The rates the line was fitted over. */
  range: Interval;
  /** Each point with its round and offered rate (absent in models before the crossings were paired): the block it was measured in. */
  residuals: { x: number; y: number; fitted: number; residual: number; round?: number; rate?: number }[];
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const tOf = (df: number, level = LEVEL) => tQuantile(1 - (1 - level) / 2, df);

/** Ordinary least squares of y on x, with 95 % t-intervals of both coefficients. */
export function fitLine(points: readonly { x: number; y: number; round?: number; rate?: number }[], level = LEVEL): Fit {
  const bad = points.find((p) => !Number.isFinite(p.x) || !Number.isFinite(p.y));
  if (bad) throw new Error(`fitLine needs finite points: got (${bad.x}, ${bad.y})`);
  if (new Set(points.map((p) => p.x)).size < 2) throw new Error(`a line needs points at two rates at least: got ${points.length} point(s) at ${[...new Set(points.map((p) => p.x))].join(", ") || "none"}`);
  const n = points.length;
  const xBar = sum(points.map((p) => p.x)) / n;
  const yBar = sum(points.map((p) => p.y)) / n;
  const sxx = sum(points.map((p) => (p.x - xBar) ** 2));
  const sxy = sum(points.map((p) => (p.x - xBar) * (p.y - yBar)));
  const marginal = sxy / sxx;
  const fixed = yBar - marginal * xBar;
  const residuals = points.map((p) => {
    const fitted = fixed + marginal * p.x;
    return { x: p.x, y: p.y, fitted, residual: p.y - fitted, ...(p.round !== undefined ? { round: p.round } : {}), ...(p.rate !== undefined ? { rate: p.rate } : {}) };
  });
  const sse = sum(residuals.map((r) => r.residual ** 2));
  const sst = sum(points.map((p) => (p.y - yBar) ** 2));
  const df = n - 2;
  const base = { n, df, fixed, marginal, r2: sst > 0 ? 1 - sse / sst : null, range: [Math.min(...points.map((p) => p.x)), Math.max(...points.map((p) => p.x))] as Interval, residuals };
  if (df === 0) return { ...base, fixed_ci: null, marginal_ci: null, var_fixed: null, var_marginal: null, cov: null, sigma: null };
  const s2 = sse / df;
  const varMarginal = s2 / sxx;
  const varFixed = s2 * (1 / n + xBar ** 2 / sxx);
  const q = tOf(df, level);
  return {
    ...base,
    fixed_ci: [fixed - q * Math.sqrt(varFixed), fixed + q * Math.sqrt(varFixed)],
    marginal_ci: [marginal - q * Math.sqrt(varMarginal), marginal + q * Math.sqrt(varMarginal)],
    var_fixed: varFixed, var_marginal: varMarginal, cov: -xBar * varMarginal, sigma: Math.sqrt(s2),
  };
}

// --- From runs to points -----------------------------------------------------------------------

/** One measured run as a point of the model. */
export interface ModelPoint {
  target: string;
  /** The offered rate (requests/s). */
  rate: number;
  round: number;
  file: string;
  /** Requests ÷ the window's wall seconds: the x of the fit. */
  served_rate: number | null;
  wall_seconds: number | null;
  /** Per process: CPU-seconds per second of the window (cores). */
  cores: Record<string, number>;
  /** Per process: peak PSS in the window. */
  pss_bytes: Record<string, number>;
  /** The case's memory held at one moment (the peak of the per-sample sum, without the load generator and Toxiproxy). */
  pss_total_bytes: number | null;
  /** False when the run is flagged sut_overloaded or errors, or did not complete: left out of the fit. */
  sustained: boolean;
  why: string | null;
}

/** The flags that say a target did not sustain the rate: its point is recorded, not fitted. */
export const NOT_SUSTAINED = ["sut_overloaded", "errors"];

export function modelPoint(target: string, round: number, file: string, r: RunResult): ModelPoint {
  const wall = typeof r.extra.wall_seconds === "number" && r.extra.wall_seconds > 0 ? r.extra.wall_seconds : null;
  const flagged = r.flags.filter((f) => NOT_SUSTAINED.includes(f));
  const why = r.status !== "complete" ? `the run did not complete (${r.status})`
    : flagged.length ? `not sustained at this rate (${flagged.join(", ")}${r.summary?.dropped_iterations ? `: ${r.summary.dropped_iterations} iterations dropped` : ""}${r.summary && r.summary.error_rate > 0 ? `, ${(r.summary.error_rate * 100).toFixed(2)} % errors` : ""})`
    : wall === null || !r.summary ? "no measured window (wall seconds or summary missing)" : null;
  const memory = r.extra.memory as { peak_total_bytes?: number } | undefined;
  return {
    target, rate: r.params.rate ?? 0, round, file,
    served_rate: wall && r.summary ? r.summary.requests / wall : null,
    wall_seconds: wall,
    cores: wall ? Object.fromEntries(Object.entries(r.resources).map(([p, u]) => [p, u.cpu_seconds / wall])) : {},
    pss_bytes: Object.fromEntries(Object.entries(r.resources).map(([p, u]) => [p, u.peak_pss_bytes ?? 0])),
    pss_total_bytes: typeof memory?.peak_total_bytes === "number" ? memory.peak_total_bytes : null,
    sustained: why === null,
    why,
  };
}

// --- Per target --------------------------------------------------------------------------------

export interface TargetModel {
  target: string;
  processes: string[];
  /** Rates with at least one sustained run, and the runs that were not sustained (left out). */
  sustained_rates: number[];
  not_sustained: { rate: number; round: number; file: string; why: string }[];
  /** The case's total (without the load generator and Toxiproxy), per component (the load generator and the network proxy too, apart), per process. */
  total: Fit | null;
  components: Record<string, Fit>;
  processes_fit: Record<string, Fit>;
  /** Why there is no fit (fewer than two sustained rates). */
  no_fit: string | null;
  /** Peak PSS per offered rate, medians over the sustained rounds: the case's total and per process. */
  pss: { rate: number; n: number; total_bytes: number | null; by_process: Record<string, number> }[];
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** A target's model from its points (a target with fewer than two sustained rates has points, no fit). */
export function fitTarget(target: string, all: ModelPoint[]): TargetModel {
  const points = all.filter((p) => p.target === target);
  const used = points.filter((p) => p.sustained);
  const processes = [...new Set(used.flatMap((p) => Object.keys(p.cores)))].sort();
  const rates = [...new Set(used.map((p) => p.rate))].sort((a, b) => a - b);
  const xy = (pick: (p: ModelPoint) => number | undefined) => used.flatMap((p) => {
    const y = pick(p);
    return typeof y === "number" && p.served_rate !== null ? [{ x: p.served_rate, y, round: p.round, rate: p.rate }] : [];
  });
  const canFit = (pts: { x: number }[]) => new Set(pts.map((p) => p.x)).size >= 2;
  const fitOf = (pick: (p: ModelPoint) => number | undefined) => {
    const pts = xy(pick);
    return canFit(pts) ? fitLine(pts) : null;
  };
  const sumOf = (p: ModelPoint, include: (name: string) => boolean) => {
    const names = Object.keys(p.cores).filter(include);
    return names.length ? sum(names.map((n) => p.cores[n])) : undefined;
  };
  const total = rates.length >= 2 ? fitOf((p) => sumOf(p, inCaseTotal)) : null;
  const components: Record<string, Fit> = {};
  const processesFit: Record<string, Fit> = {};
  if (total) {
    for (const c of [...new Set(processes.map(componentOf))]) {
      const f = fitOf((p) => sumOf(p, (name) => componentOf(name) === c));
      if (f) components[c] = f;
    }
    for (const name of processes) {
      const f = fitOf((p) => p.cores[name]);
      if (f) processesFit[name] = f;
    }
  }
  return {
    target, processes, sustained_rates: rates,
    not_sustained: points.filter((p) => !p.sustained).map((p) => ({ rate: p.rate, round: p.round, file: p.file, why: p.why! })),
    total, components, processes_fit: processesFit,
    no_fit: total ? null : `sustained at ${rates.length ? rates.join(", ") + " requests/s only" : "no rate"}: a line needs two rates at least`,
    pss: rates.map((rate) => {
      const at = used.filter((p) => p.rate === rate);
      const totals = at.map((p) => p.pss_total_bytes).filter((v): v is number => v !== null);
      return {
        rate, n: at.length, total_bytes: totals.length ? median(totals) : null,
        by_process: Object.fromEntries(processes.map((name) => [name, median(at.map((p) => p.pss_bytes[name] ?? 0))])),
      };
    }),
  };
}

/** `--rates 25,50,100`: offered rates in requests/s, positive integers, two at least, ascending once read. */
export function parseRates(text: string): number[] {
  const items = text.split(",").map((r) => r.trim());
  if (!items.every((r) => /^\d+$/.test(r) && Number(r) >= 1)) throw new UsageError(`--rates takes offered rates in requests/s, positive integers separated by commas (e.g. 25,50,100,200), got "${text}"`);
  return checkRates(items.map(Number));
}

/** Rates as `just model --rates` takes them: two at least, no repeats; returned ascending. */
export function checkRates(rates: number[]): number[] {
  if (rates.length < 2) throw new UsageError(`--rates takes two rates at least (a line needs two), got ${rates.join(",")}`);
  if (new Set(rates).size !== rates.length) throw new UsageError(`--rates names a rate twice: ${rates.join(",")}`);
  return [...rates].sort((a, b) => a - b);
}

