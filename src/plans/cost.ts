/**
 * What the cost model (src/plans/model.ts) says a rate costs, pure: cores needed at R requests/s,
 * CPU-hours and memory GB-hours per million requests, money only with a price the user gives
 * (`--price vcpu-hour=P,gb-hour=Q`), the targets ranked at a rate with the ratio to the runner-up,
 * where the cheapest target changes; and the model document that holds all of it.
 */
import { UsageError } from "../errors";
import { tQuantile } from "../stats/distributions";
import { LEVEL } from "../stats/paired";
import { type Crossover, crossover, crossovers, differenceLine, lineOf, scaleLine, valueAt } from "./crossing";
import { type Interval, type ModelPoint, type TargetModel, fitTarget } from "./model";

const tOf = (df: number, level = LEVEL) => tQuantile(1 - (1 - level) / 2, df);

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
  /** Cores needed at `rate` (CPU-seconds per second) with its interval; the case's total, without the load generator. */
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
 * targets' cost lines (cores, or money per hour with a price), each with its crossing's interval
 * (from the blocks both targets ran, src/plans/crossing.ts).
 */
export function cheapestChanges(models: TargetModel[], lo: number, hi: number, price?: Price): { rate: number; from: string; to: string; ci: Interval | null }[] {
  const fitted = models.filter((m) => m.total);
  const [scale, perGb] = price ? [price.vcpu_hour, price.gb_hour] : [1, 0];
  const lines = fitted.map((m) => {
    const gb = (memoryAt(m, (lo + hi) / 2).bytes ?? 0) / GIB;
    return { target: m.target, fit: m.total!, shift: perGb * gb, line: lineOf(m.total!, scale, perGb * gb) };
  });
  if (lines.length < 2 || !(hi > lo)) return [];
  const cheapest = (x: number) => lines.reduce((best, l) => (l.line.fixed + l.line.marginal * x < best.line.fixed + best.line.marginal * x ? l : best));
  const candidates: { rate: number; ci: Interval | null }[] = [];
  for (let i = 0; i < lines.length; i++) {
    for (let j = i + 1; j < lines.length; j++) {
      const [li, lj] = [lines[i], lines[j]];
      const difference = differenceLine(li.fit, lj.fit);
      // Memory enters as known: the money lines' difference is the cores' difference priced, shifted by the memory costs' difference.
      const c = crossover(li.target, { ...li.line, range: [lo, hi] }, lj.target, { ...lj.line, range: [lo, hi] }, undefined, difference && { ...scaleLine(difference, scale, li.shift - lj.shift), blocks: difference.blocks });
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
