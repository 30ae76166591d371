/**
 * The cost model (DESIGN §20), pure: per process and per component, CPU-seconds per second
 * (cores) = fixed + marginal × rate, fitted by ordinary least squares over the measured runs at
 * several offered rates (each round at each rate is its own point), with 95 % t-intervals from the
 * fit's standard errors, its residuals and R²; peak PSS per rate (median over rounds); where two
 * targets' lines cross; and what serving R requests/s costs (cores, CPU-hours and memory GB-hours
 * per million requests, money only with a price the user gives).
 *
 * The x of a point is the rate served over the measured window (requests ÷ the window's wall
 * seconds), not the offered rate: CPU and requests are then counted over the same seconds, so the
 * slope is CPU per request even when k6's start-up takes a slice of the window.
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
  residuals: { x: number; y: number; fitted: number; residual: number; round?: number }[];
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const tOf = (df: number, level = LEVEL) => tQuantile(1 - (1 - level) / 2, df);

/** Ordinary least squares of y on x, with 95 % t-intervals of both coefficients. */
export function fitLine(points: readonly { x: number; y: number; round?: number }[], level = LEVEL): Fit {
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
    return { x: p.x, y: p.y, fitted, residual: p.y - fitted, ...(p.round !== undefined ? { round: p.round } : {}) };
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

/** A fitted line in some unit per hour (cores, or money per hour), for predictions and crossings. */
export interface Line {
  fixed: number;
  marginal: number;
  var_fixed: number | null;
  var_marginal: number | null;
  cov: number | null;
  df: number;
  range: Interval;
}

/** The line of a fit, optionally scaled (a price per core-hour) and shifted (memory's cost per hour, taken as known). */
export function lineOf(fit: Fit, scale = 1, shift = 0): Line {
  const s2 = scale * scale;
  return {
    fixed: scale * fit.fixed + shift, marginal: scale * fit.marginal,
    var_fixed: fit.var_fixed === null ? null : s2 * fit.var_fixed,
    var_marginal: fit.var_marginal === null ? null : s2 * fit.var_marginal,
    cov: fit.cov === null ? null : s2 * fit.cov,
    df: fit.df, range: fit.range,
  };
}

/** The line's value at `x` with its 95 % interval (of the mean, not of a single run); no interval when df = 0. */
export function valueAt(line: Line, x: number, level = LEVEL): { value: number; se: number | null; ci: Interval | null } {
  const value = line.fixed + line.marginal * x;
  if (line.var_fixed === null || line.var_marginal === null || line.cov === null || line.df < 1) return { value, se: null, ci: null };
  const se = Math.sqrt(Math.max(0, line.var_fixed + x * x * line.var_marginal + 2 * x * line.cov));
  const q = tOf(line.df, level);
  return { value, se, ci: [value - q * se, value + q * se] };
}

export interface Crossover {
  a: string;
  b: string;
  /** The rate where a's and b's lines cross, when it lies in both measured ranges; null otherwise. */
  rate: number | null;
  /** Where the lines cross at all (null when parallel), even outside the measured range. */
  at: number | null;
  /** Fieller's 95 % interval of the crossing rate; null when unbounded or not computable. */
  ci: Interval | null;
  /** Below the crossing, which target's line is lower. */
  below: string | null;
  why: string | null;
}

/**
 * Where two lines cross: x* = (fixed_b − fixed_a) / (marginal_a − marginal_b). Its interval is
 * Fieller's (the confidence set of a ratio of two normal estimates; the delta method's interval
 * is its large-sample limit): {θ : (Δa + θΔb)² ≤ t² Var(Δa + θΔb)}, bounded only when the slopes'
 * difference is itself significant (otherwise the lines may well be parallel, and the set is
 * unbounded: no interval). The two targets' fits are taken as independent regressions, so the
 * variance of the difference is the sum of theirs, with Welch–Satterthwaite's degrees of freedom
 * for that sum, evaluated at the crossing (between the smaller df and the sum of both).
 */
export function crossover(a: string, la: Line, b: string, lb: Line, level = LEVEL): Crossover {
  const dA = la.fixed - lb.fixed;
  const dB = la.marginal - lb.marginal;
  const lo = Math.max(la.range[0], lb.range[0]);
  const hi = Math.min(la.range[1], lb.range[1]);
  const scale = Math.max(Math.abs(la.marginal), Math.abs(lb.marginal), 1e-300);
  if (Math.abs(dB) <= 1e-12 * scale) return { a, b, rate: null, at: null, ci: null, below: dA < 0 ? a : dA > 0 ? b : null, why: "the lines are parallel (equal marginal cost)" };
  const at = -dA / dB;
  const below = dA < 0 ? a : dA > 0 ? b : dB > 0 ? b : a;
  let ci: Interval | null = null;
  let why: string | null = null;
  const vars = [la.var_fixed, la.var_marginal, la.cov, lb.var_fixed, lb.var_marginal, lb.cov];
  if (vars.some((v) => v === null) || Math.min(la.df, lb.df) < 1) why = "no interval: a fit with two points has no residual degrees of freedom";
  else {
    const vA = la.var_fixed! + lb.var_fixed!;
    const vB = la.var_marginal! + lb.var_marginal!;
    const c = la.cov! + lb.cov!;
    const t2 = tOf(welchDf([[valueVariance(la, at), la.df], [valueVariance(lb, at), lb.df]]), level) ** 2;
    // (Δa + θΔb)² − t²(vA + 2θc + θ²vB) ≤ 0, a quadratic in θ.
    const qa = dB * dB - t2 * vB;
    const qb = 2 * (dA * dB - t2 * c);
    const qc = dA * dA - t2 * vA;
    const disc = qb * qb - 4 * qa * qc;
    if (qa > 0 && disc >= 0) {
      const r1 = (-qb - Math.sqrt(disc)) / (2 * qa);
      const r2 = (-qb + Math.sqrt(disc)) / (2 * qa);
      ci = [Math.min(r1, r2), Math.max(r1, r2)];
    } else why = "no bounded interval: the marginal costs' difference is not significant, so the lines may not cross at all";
  }
  if (at < lo || at > hi) {
    return { a, b, rate: null, at, ci, below, why: `the lines cross at ${round(at, 1)} requests/s, outside the range both were measured over (${round(lo, 1)}–${round(hi, 1)})${why ? `; ${why}` : ""}` };
  }
  return { a, b, rate: at, at, ci, below, why };
}

/** The variance of a line's value at x (its coefficients' variances and covariance known). */
const valueVariance = (l: Line, x: number) => Math.max(0, l.var_fixed! + x * x * l.var_marginal! + 2 * x * l.cov!);

/**
 * Welch–Satterthwaite: the degrees of freedom of a sum of independent variance estimates, each
 * with its own df — (Σ v)² / Σ (v² / df). Zero variances leave the smaller df.
 */
export function welchDf(parts: [variance: number, df: number][]): number {
  const total = parts.reduce((s, [v]) => s + v, 0);
  const smallest = Math.min(...parts.map(([, df]) => df));
  if (!(total > 0)) return smallest;
  const df = total ** 2 / parts.reduce((s, [v, d]) => s + v ** 2 / d, 0);
  return Math.max(smallest, df);
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

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
  /** The case's memory held at one moment (the peak of the per-sample sum, without k6 and Toxiproxy). */
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
  /** The case's total (without k6 and Toxiproxy), per component (k6 and the network proxy too, apart), per process. */
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
    return typeof y === "number" && p.served_rate !== null ? [{ x: p.served_rate, y, round: p.round }] : [];
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

/** Every pair of fitted targets: where their total lines cross. */
export function crossovers(models: TargetModel[]): Crossover[] {
  const fitted = models.filter((m) => m.total);
  const out: Crossover[] = [];
  for (let i = 0; i < fitted.length; i++) {
    for (let j = i + 1; j < fitted.length; j++) out.push(crossover(fitted[i].target, lineOf(fitted[i].total!), fitted[j].target, lineOf(fitted[j].total!)));
  }
  return out;
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

