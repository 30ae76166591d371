/**
 * What a cost line says at a rate, and where two targets' lines cross (docs/design.md §20), pure; the lines
 * are src/plans/model.ts's fits.
 *
 * A crossing is read from the rounds both targets ran. A model measures in blocks: one round at one
 * offered rate runs every target back to back (src/plans/model-run.ts), so the machine's speed of
 * that moment is shared by the targets of the block, as it is by a comparison's round (DESIGN
 * §18). Two targets are compared on their difference in each block both ran: d = y_a − y_b, each y
 * first moved to the block's common served rate along its own line (the two served rates differ by
 * a fraction of a request/s), then d fitted by least squares on that rate. What the block's moment
 * added to both cancels in d, so the difference line — and the crossing, where it is 0 — is as
 * precise as the targets' own run-to-run noise allows, not the machine's drift across rounds and
 * rates; its residual degrees of freedom are the blocks − 2. Without three such blocks at two rates
 * or more (or in models written before each point kept its block), the two fits are taken as
 * independent regressions instead, with Welch–Satterthwaite's degrees of freedom.
 */
import { tQuantile } from "../stats/distributions";
import { LEVEL } from "../stats/paired";
import { type Fit, fitLine, type Interval, type TargetModel } from "./model";

const tOf = (df: number, level = LEVEL) => tQuantile(1 - (1 - level) / 2, df);

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

/** A line scaled (a price per core-hour) and shifted (memory's cost per hour, taken as known). */
export function scaleLine(line: Line, scale = 1, shift = 0): Line {
  const s2 = scale * scale;
  return {
    fixed: scale * line.fixed + shift, marginal: scale * line.marginal,
    var_fixed: line.var_fixed === null ? null : s2 * line.var_fixed,
    var_marginal: line.var_marginal === null ? null : s2 * line.var_marginal,
    cov: line.cov === null ? null : s2 * line.cov,
    df: line.df, range: line.range,
  };
}

/** The line of a fit, optionally scaled and shifted (scaleLine). */
export function lineOf(fit: Fit, scale = 1, shift = 0): Line {
  return scaleLine({ fixed: fit.fixed, marginal: fit.marginal, var_fixed: fit.var_fixed, var_marginal: fit.var_marginal, cov: fit.cov, df: fit.df, range: fit.range }, scale, shift);
}

/** The line's value at `x` with its 95 % interval (of the mean, not of a single run); no interval when df = 0. */
export function valueAt(line: Line, x: number, level = LEVEL): { value: number; se: number | null; ci: Interval | null } {
  const value = line.fixed + line.marginal * x;
  if (line.var_fixed === null || line.var_marginal === null || line.cov === null || line.df < 1) return { value, se: null, ci: null };
  const se = Math.sqrt(Math.max(0, line.var_fixed + x * x * line.var_marginal + 2 * x * line.cov));
  const q = tOf(line.df, level);
  return { value, se, ci: [value - q * se, value + q * se] };
}

/**
 * The line of a − b fitted on the blocks (round × offered rate) both fits have a point in (see the
 * file's head); null with fewer than 3 such blocks or fewer than 2 offered rates among them.
 */
export function differenceLine(fa: Fit, fb: Fit): (Line & { blocks: number }) | null {
  const byBlock = (f: Fit) => {
    const blocks = new Map<string, Fit["residuals"][number] | null>();
    for (const r of f.residuals) {
      if (r.round === undefined || r.rate === undefined) return null;
      const key = `${r.round}:${r.rate}`;
      // Two points of one target in a block cannot be paired one to one: the block is left out.
      blocks.set(key, blocks.has(key) ? null : r);
    }
    return blocks;
  };
  const [ba, bb] = [byBlock(fa), byBlock(fb)];
  if (!ba || !bb) return null;
  const points: { x: number; y: number; rate: number }[] = [];
  for (const [key, pa] of ba) {
    const pb = bb.get(key);
    if (!pa || !pb) continue;
    const x = (pa.x + pb.x) / 2;
    points.push({ x, y: pa.y + fa.marginal * (x - pa.x) - (pb.y + fb.marginal * (x - pb.x)), rate: pa.rate! });
  }
  if (points.length < 3 || new Set(points.map((p) => p.rate)).size < 2) return null;
  const d = fitLine(points);
  return { fixed: d.fixed, marginal: d.marginal, var_fixed: d.var_fixed, var_marginal: d.var_marginal, cov: d.cov, df: d.df, range: d.range, blocks: points.length };
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
  /** The blocks the difference line was fitted on; null when the fits were taken as independent. Absent before the crossings were paired. */
  paired_blocks?: number | null;
}

/**
 * Where two lines cross: x* = (fixed_b − fixed_a) / (marginal_a − marginal_b). Its interval is
 * Fieller's (the confidence set of a ratio of two normal estimates; the delta method's interval
 * is its large-sample limit): {θ : (Δa + θΔb)² ≤ t² Var(Δa + θΔb)}, bounded only when the slopes'
 * difference is itself significant (otherwise the lines may well be parallel, and the set is
 * unbounded: no interval). With `difference` (differenceLine, scaled alike) the Δs, their
 * variances and the df are its own; without it the two fits are independent, the variance of the
 * difference is the sum of theirs, with Welch–Satterthwaite's degrees of freedom for that sum,
 * evaluated at the crossing (between the smaller df and the sum of both).
 */
export function crossover(a: string, la: Line, b: string, lb: Line, level = LEVEL, difference: (Line & { blocks?: number }) | null = null): Crossover {
  const paired = difference !== null && difference.df >= 1 && difference.var_fixed !== null;
  const dA = paired ? difference.fixed : la.fixed - lb.fixed;
  const dB = paired ? difference.marginal : la.marginal - lb.marginal;
  const lo = Math.max(la.range[0], lb.range[0]);
  const hi = Math.min(la.range[1], lb.range[1]);
  const scale = Math.max(Math.abs(la.marginal), Math.abs(lb.marginal), 1e-300);
  const blocks = paired ? { paired_blocks: difference.blocks ?? null } : { paired_blocks: null };
  if (Math.abs(dB) <= 1e-12 * scale) return { a, b, rate: null, at: null, ci: null, below: dA < 0 ? a : dA > 0 ? b : null, why: "the lines are parallel (equal marginal cost)", ...blocks };
  const at = -dA / dB;
  const below = dA < 0 ? a : dA > 0 ? b : dB > 0 ? b : a;
  let ci: Interval | null = null;
  let why: string | null = null;
  const vars = [la.var_fixed, la.var_marginal, la.cov, lb.var_fixed, lb.var_marginal, lb.cov];
  if (!paired && (vars.some((v) => v === null) || Math.min(la.df, lb.df) < 1)) why = "no interval: a fit with two points has no residual degrees of freedom";
  else {
    const [vA, vB, c, df] = paired
      ? [difference.var_fixed!, difference.var_marginal!, difference.cov!, difference.df]
      : [la.var_fixed! + lb.var_fixed!, la.var_marginal! + lb.var_marginal!, la.cov! + lb.cov!, welchDf([[valueVariance(la, at), la.df], [valueVariance(lb, at), lb.df]])];
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
    return { a, b, rate: null, at, ci, below, why: `the lines cross at ${round(at, 1)} requests/s, outside the range both were measured over (${round(lo, 1)}–${round(hi, 1)})${why ? `; ${why}` : ""}`, ...blocks };
  }
  return { a, b, rate: at, at, ci, below, why, ...blocks };
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

/** Every pair of fitted targets: where their total lines cross, from the blocks both ran. */
export function crossovers(models: TargetModel[]): Crossover[] {
  const fitted = models.filter((m) => m.total);
  const out: Crossover[] = [];
  for (let i = 0; i < fitted.length; i++) {
    for (let j = i + 1; j < fitted.length; j++) {
      const [fa, fb] = [fitted[i].total!, fitted[j].total!];
      out.push(crossover(fitted[i].target, lineOf(fa), fitted[j].target, lineOf(fb), LEVEL, differenceLine(fa, fb)));
    }
  }
  return out;
}
