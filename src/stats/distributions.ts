/**
 * The distributions the harness's statistics stand on, in one place: Student's t (its tails and
 * quantile, from the regularized incomplete beta function) for the paired verdicts, the cost
 * model's intervals and the steady-state detection; the standard normal's CDF and quantile; and
 * the expectation over a sample standard deviation, which gives the exact power of the t-tests
 * (src/stats/sizing.ts). Checked against published tables in test/paired.test.ts and
 * test/steady.test.ts. Pure.
 */
import { erf } from "simple-statistics";

/** ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms; relative error below 1e-13 in double precision). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = c[0];
  for (let i = 1; i < 9; i++) sum += c[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The continued fraction of I_x(a, b), evaluated by the modified Lentz method. */
function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = Math.abs(d) < tiny ? 1 / tiny : 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    // Even step, then odd step of the fraction's recurrence.
    let step = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + step * d;
    d = Math.abs(d) < tiny ? 1 / tiny : 1 / d;
    c = 1 + step / c;
    c = Math.abs(c) < tiny ? tiny : c;
    h *= d * c;
    step = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + step * d;
    d = Math.abs(d) < tiny ? 1 / tiny : 1 / d;
    c = 1 + step / c;
    c = Math.abs(c) < tiny ? tiny : c;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b), 0 ≤ x ≤ 1. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast on this side of the mean; the other side by symmetry.
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(x, a, b)) / a : 1 - (front * betaFraction(1 - x, b, a)) / b;
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom. */
export function tTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** P(T ≥ t), one-sided, for Student's t with `df` degrees of freedom. */
export function tUpper(t: number, df: number): number {
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  const half = tTwoSided(t, df) / 2;
  return t >= 0 ? half : 1 - half;
}

const quantiles = new Map<string, number>();

/** The t quantile q with P(T ≤ q) = p, by bisection on the tail (p in (0.5, 1)); remembered, as R and the level repeat. */
export function tQuantile(p: number, df: number): number {
  const key = `${p},${df}`;
  let q = quantiles.get(key);
  if (q === undefined) quantiles.set(key, (q = bisectQuantile(p, df)));
  return q;
}

function bisectQuantile(p: number, df: number): number {
  if (!(p > 0.5 && p < 1)) throw new Error(`tQuantile needs p strictly between 0.5 and 1: got ${p}`);
  const tail = 2 * (1 - p);
  let lo = 0;
  let hi = 1;
  while (tTwoSided(hi, df) > tail) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tTwoSided(mid, df) > tail) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Quantile of the standard normal (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628274631];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const q = p < 0.5 ? p : 1 - p;
  let x: number;
  if (q < 0.02425) {
    const r = Math.sqrt(-2 * Math.log(q));
    x = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1);
  } else {
    const r = q - 0.5;
    const s = r * r;
    x = ((((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r) / (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    return p < 0.5 ? x : -x;
  }
  return p < 0.5 ? x : -x;
}

/** Φ(z), the standard normal CDF, as ½(1 + erf(z/√2)) on simple-statistics' erf (error below 1.2e-7). */
export function normalCdf(z: number): number {
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  return 0.5 * (1 + erf(z / Math.SQRT2));
}

/** Simpson intervals for expectOverSd: the integrand is smooth, so 400 give about 1e-7. */
const SIMPSON = 400;

/**
 * E[f(S/σ)], where S is the sample standard deviation of df + 1 normal values with spread σ:
 * (df)·S²/σ² is χ² with df degrees of freedom, so w = √df·S/σ is χ with df degrees of freedom,
 * integrated by Simpson's rule over w (whose density is smooth at 0 for every df, unlike χ²'s).
 * `uMax` cuts the integral at S/σ = uMax where f is 0 beyond it (a kink would cost Simpson its
 * accuracy). The power of a t-test is one such expectation: given S, the test is a normal tail.
 */
export function expectOverSd(df: number, f: (u: number) => number, uMax = Infinity): number {
  if (!(Number.isInteger(df) && df >= 1)) throw new Error(`expectOverSd needs a positive integer df: got ${df}`);
  const root = Math.sqrt(df);
  const lo = Math.max(0, root - 10);
  const hi = Math.min(root + 10, uMax * root);
  if (!(hi > lo)) return 0;
  const logNorm = (df / 2 - 1) * Math.LN2 + logGamma(df / 2);
  const density = (w: number) => (df === 1 ? Math.exp(-(w * w) / 2 - logNorm) : w <= 0 ? 0 : Math.exp((df - 1) * Math.log(w) - (w * w) / 2 - logNorm));
  const h = (hi - lo) / SIMPSON;
  let sum = 0;
  for (let i = 0; i <= SIMPSON; i++) {
    const w = lo + i * h;
    const weight = i === 0 || i === SIMPSON ? 1 : i % 2 ? 4 : 2;
    sum += weight * density(w) * f(w / root);
  }
  return (sum * h) / 3;
}
