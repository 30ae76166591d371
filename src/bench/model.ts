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
import { tQuantile } from "./distributions";
import { LEVEL } from "./paired";
import type { RunResult } from "./results";
import { componentOf, inCaseTotal } from "./run-result";

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
 * unbounded: no interval). The two targets' fits are independent regressions; t has the smaller df.
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
  const df = Math.min(la.df, lb.df);
  if (vars.some((v) => v === null) || df < 1) why = "no interval: a fit with two points has no residual degrees of freedom";
  else {
    const vA = la.var_fixed! + lb.var_fixed!;
    const vB = la.var_marginal! + lb.var_marginal!;
    const c = la.cov! + lb.cov!;
    const t2 = tOf(df, level) ** 2;
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

// --- Cost --------------------------------------------------------------------------------------

/** Prices per hour: a vCPU (one core busy for an hour) and a GB of memory (GiB, 2^30 bytes). */
export interface Price {
  vcpu_hour: number;
  gb_hour: number;
  currency?: string;
}

export const GIB = 2 ** 30;

/** `vcpu-hour=0.04,gb-hour=0.005`: either may be left out (it then costs nothing, and the report says so). */
export function parsePrice(text: string | undefined): Price {
  const usage = `--price takes vcpu-hour=P and/or gb-hour=Q, non-negative numbers separated by a comma (e.g. vcpu-hour=0.04,gb-hour=0.005), got "${text ?? ""}"`;
  if (!text) throw new UsageError(usage);
  const price: Price = { vcpu_hour: 0, gb_hour: 0 };
  const seen = new Set<string>();
  for (const part of text.split(",")) {
    const m = /^\s*(vcpu-hour|gb-hour)=(\d+(?:\.\d+)?|\.\d+)\s*$/.exec(part);
    if (!m || seen.has(m[1])) throw new UsageError(usage);
    seen.add(m[1]);
    price[m[1] === "vcpu-hour" ? "vcpu_hour" : "gb_hour"] = Number(m[2]);
  }
  if (price.vcpu_hour === 0 && price.gb_hour === 0) throw new UsageError(`${usage}: a price of 0 for both ranks nothing`);
  return price;
}

/** The case's memory at `rate`: linear between the measured rates' medians, the nearest one outside them. */
export function memoryAt(model: TargetModel, rate: number): { bytes: number | null; extrapolated: boolean } {
  const known = model.pss.filter((p) => p.total_bytes !== null) as { rate: number; total_bytes: number }[];
  if (!known.length) return { bytes: null, extrapolated: false };
  if (rate <= known[0].rate) return { bytes: known[0].total_bytes, extrapolated: rate < known[0].rate };
  if (rate >= known.at(-1)!.rate) return { bytes: known.at(-1)!.total_bytes, extrapolated: rate > known.at(-1)!.rate };
  const i = known.findIndex((p) => p.rate >= rate);
  const [l, r] = [known[i - 1], known[i]];
  return { bytes: l.total_bytes + ((r.total_bytes - l.total_bytes) * (rate - l.rate)) / (r.rate - l.rate), extrapolated: false };
}

/** Hours of a resource per million requests at `rate` requests/s, given the resource held (cores, GB). */
export const perMillion = (held: number, rate: number) => (held * 1e6) / rate / 3600;

export interface Cost {
  target: string;
  rate: number;
  /** Cores needed at `rate` (CPU-seconds per second) with its interval; the case's total, without k6. */
  cores: number;
  cores_ci: Interval | null;
  cpu_hours_per_million: number;
  cpu_hours_ci: Interval | null;
  memory_gb: number | null;
  gb_hours_per_million: number | null;
  /** With a price: money per million requests (CPU + memory), its interval from the CPU fit's. */
  money_per_million: number | null;
  money_ci: Interval | null;
  /** The rate lies outside the rates the line was fitted over. */
  extrapolated: boolean;
  /** What the ranking compares: money with a price, CPU-hours without one. */
  rank_value: number;
  rank_se: number | null;
  rank_df: number;
}

/** What one target costs at `rate` from its model; null without a fit. */
export function costAt(model: TargetModel, rate: number, price?: Price): Cost | null {
  if (!model.total) return null;
  if (!(rate > 0)) throw new UsageError(`the rate to cost at must be positive, got ${rate}`);
  const cores = valueAt(lineOf(model.total), rate);
  const memory = memoryAt(model, rate);
  const gb = memory.bytes === null ? null : memory.bytes / GIB;
  const k = perMillion(1, rate);
  const money = price ? price.vcpu_hour * cores.value * k + price.gb_hour * (gb ?? 0) * k : null;
  const rankScale = price ? price.vcpu_hour * k : k;
  // Against the offered rates measured (the fit's x, the rate served, runs a little under them).
  const [lo, hi] = model.sustained_rates.length ? [model.sustained_rates[0], model.sustained_rates.at(-1)!] : model.total.range;
  const extrapolated = rate < lo || rate > hi;
  return {
    target: model.target, rate,
    cores: cores.value, cores_ci: cores.ci,
    cpu_hours_per_million: cores.value * k,
    cpu_hours_ci: cores.ci ? [cores.ci[0] * k, cores.ci[1] * k] : null,
    memory_gb: gb,
    gb_hours_per_million: gb === null ? null : gb * k,
    money_per_million: money,
    money_ci: price && cores.ci ? [money! - price.vcpu_hour * (cores.value - cores.ci[0]) * k, money! + price.vcpu_hour * (cores.ci[1] - cores.value) * k] : null,
    extrapolated: extrapolated || memory.extrapolated,
    rank_value: money ?? cores.value * k,
    rank_se: cores.se === null ? null : cores.se * rankScale,
    rank_df: model.total.df,
  };
}

export interface Ranking {
  rate: number;
  by: "money" | "cpu-hours";
  /** Says what the ranking counts (and that memory is left out without a price). */
  basis: string;
  /** Cheapest first. */
  costs: Cost[];
  /** Cheapest ÷ runner-up, its 95 % interval (delta method on the log ratio), `tie` when it includes 1. */
  ratio: number | null;
  ratio_ci: Interval | null;
  verdict: "decided" | "tie" | "alone" | "none";
}

/**
 * The targets ranked by cost at `rate`. The ratio's interval: ln(c₁/c₂) ± t·√(se₁²/c₁² + se₂²/c₂²)
 * (the two fits are independent; t has the smaller df). Memory enters the money as known (its
 * median over rounds), so the interval counts the CPU fit's uncertainty only.
 */
export function rankAt(models: TargetModel[], rate: number, price?: Price, level = LEVEL): Ranking {
  const costs = models.map((m) => costAt(m, rate, price)).filter((c): c is Cost => c !== null).sort((x, y) => x.rank_value - y.rank_value);
  const by = price ? "money" : "cpu-hours";
  const basis = price
    ? `money per million requests at ${rate} requests/s: ${price.vcpu_hour} per vCPU-hour × CPU-hours + ${price.gb_hour} per GB-hour × memory GB-hours${price.gb_hour === 0 ? " (no memory price given: memory costs nothing here)" : ""}${price.vcpu_hour === 0 ? " (no vCPU price given: CPU costs nothing here)" : ""}`
    : `CPU-hours per million requests at ${rate} requests/s (no price given: ranked by CPU-hours alone; memory GB-hours are shown beside, not counted)`;
  if (costs.length < 2) return { rate, by, basis, costs, ratio: null, ratio_ci: null, verdict: costs.length ? "alone" : "none" };
  const [c1, c2] = costs;
  const ratio = c1.rank_value / c2.rank_value;
  let ci: Interval | null = null;
  if (c1.rank_se !== null && c2.rank_se !== null && c1.rank_value > 0 && c2.rank_value > 0) {
    const se = Math.sqrt((c1.rank_se / c1.rank_value) ** 2 + (c2.rank_se / c2.rank_value) ** 2);
    const q = tOf(Math.max(1, Math.min(c1.rank_df, c2.rank_df)), level);
    ci = [ratio * Math.exp(-q * se), ratio * Math.exp(q * se)];
  }
  return { rate, by, basis, costs, ratio, ratio_ci: ci, verdict: ci === null || ci[1] >= 1 ? "tie" : "decided" };
}

/**
 * Where the cheapest target changes over [lo, hi]: the breakpoints of the lower envelope of the
 * targets' cost lines (cores, or money per hour with a price), each with its crossing's interval.
 */
export function cheapestChanges(models: TargetModel[], lo: number, hi: number, price?: Price): { rate: number; from: string; to: string; ci: Interval | null }[] {
  const fitted = models.filter((m) => m.total);
  const lines = fitted.map((m) => {
    const gb = (memoryAt(m, (lo + hi) / 2).bytes ?? 0) / GIB;
    return { target: m.target, line: price ? lineOf(m.total!, price.vcpu_hour, price.gb_hour * gb) : lineOf(m.total!) };
  });
  if (lines.length < 2 || !(hi > lo)) return [];
  const cheapest = (x: number) => lines.reduce((best, l) => (l.line.fixed + l.line.marginal * x < best.line.fixed + best.line.marginal * x ? l : best));
  const candidates: { rate: number; ci: Interval | null }[] = [];
  for (let i = 0; i < lines.length; i++) {
    for (let j = i + 1; j < lines.length; j++) {
      const c = crossover(lines[i].target, { ...lines[i].line, range: [lo, hi] }, lines[j].target, { ...lines[j].line, range: [lo, hi] });
      if (c.rate !== null && c.rate > lo && c.rate < hi) candidates.push({ rate: c.rate, ci: c.ci });
    }
  }
  const changes: { rate: number; from: string; to: string; ci: Interval | null }[] = [];
  for (const c of candidates.sort((x, y) => x.rate - y.rate)) {
    const eps = Math.max(1e-9, (hi - lo) * 1e-6);
    const [before, after] = [cheapest(c.rate - eps).target, cheapest(c.rate + eps).target];
    if (before !== after) changes.push({ rate: c.rate, from: before, to: after, ci: c.ci });
  }
  return changes;
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

// --- The model document ------------------------------------------------------------------------

export interface ModelDoc {
  schema_version: 1;
  kind: "model";
  created_at: string;
  seed: number;
  params: {
    rates: number[]; duration: string; warmup: string; repeat: number; api: string | null;
    fleet_size: number | null; hop_latency_ms: number | null; at: number | null; price: Price | null;
  };
  targets: string[];
  /** Each round runs every rate, in a shuffled order; each block is one comparison of every target at one rate. */
  blocks: { round: number; rate: number; compare: string }[];
  points: ModelPoint[];
  models: TargetModel[];
  crossovers: Crossover[];
  /** The targets ranked by cost at `params.at` (default: the highest rate measured). */
  ranking: Ranking | null;
  /** Where the cheapest target changes within the measured range. */
  changes: { rate: number; from: string; to: string; ci: Interval | null }[];
  fingerprint?: Record<string, unknown>;
  notes: string[];
}

/** The fits, crossings and ranking of measured points: everything of a model document but its measuring. */
export function analyseModel(points: ModelPoint[], targets: string[], params: ModelDoc["params"]): Pick<ModelDoc, "models" | "crossovers" | "ranking" | "changes" | "notes"> {
  const models = targets.map((t) => fitTarget(t, points));
  const fitted = models.filter((m) => m.total);
  const lo = fitted.length ? Math.max(...fitted.map((m) => m.total!.range[0])) : 0;
  const hi = fitted.length ? Math.min(...fitted.map((m) => m.total!.range[1])) : 0;
  const at = params.at ?? (params.rates.length ? Math.max(...params.rates) : null);
  const notes: string[] = [];
  for (const m of models) {
    if (m.not_sustained.length) notes.push(`${m.target} did not sustain ${[...new Set(m.not_sustained.map((n) => n.rate))].join(", ")} requests/s in ${m.not_sustained.length} run(s): recorded, left out of its fit.`);
    if (m.no_fit) notes.push(`${m.target}: no line (${m.no_fit}).`);
  }
  return {
    models,
    crossovers: crossovers(models),
    ranking: at !== null && fitted.length ? rankAt(models, at, params.price ?? undefined) : null,
    changes: hi > lo ? cheapestChanges(models, lo, hi, params.price ?? undefined) : [],
    notes,
  };
}
