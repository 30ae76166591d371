/**
 * The boundaries of a group-sequential t-test, computed exactly (src/stats/sequential.ts uses
 * them; docs/design.md §23). Looks come after every round k = k₀ … K; at look k the one-sample t statistic
 * T_k = √k·mean_k / sd_k of the first k values is compared with a boundary c_k, and the c_k are
 * chosen so that, for normal values of mean 0 and any spread, the chance that some look reaches
 * its boundary (T_k ≥ c_k) is spent look by look as γ·(k/K)^ρ: Lan and DeMets' spending (K. K. G.
 * Lan & D. L. DeMets, "Discrete sequential boundaries for clinical trials", Biometrika 1983) with
 * Kim and DeMets' power family (K. Kim & D. L. DeMets, "Design and analysis of group sequential
 * tests based on the type I error spending rate function", Biometrika 1987). Pure.
 *
 * Why exact, and how. The statistics are t, not z, because the spread is unknown and rounds are
 * few (3–20): a boundary read off the normal would be wrong exactly there. The path T_k₀ … T_K
 * has a law free of the spread (rescaling every value changes no T_k), so its crossing chances are
 * numbers to compute, not to simulate. Its state is one angle: with S_k the sum and Q_k the sum of
 * squares of the first k values, R_k = S_k/√(k·Q_k) is the cosine of the angle between the values
 * and the all-ones vector, and ω_k = asin R_k gives T_k = √(k−1)·tan ω_k. The direction of k
 * normal values is independent of their length Q_k, so the next angle depends on the past only
 * through ω_k and a fresh Student variable: R_{k+1} = (√k·R_k + W)/√((k+1)(1 + W²)) with √k·W ~
 * t_k (W = X_{k+1}/√Q_k). Written with W = tan ψ, R_{k+1} = A·sin(ψ + φ) (A = √(kR_k² + 1)/√(k+1),
 * φ = atan(√k·R_k)), and P(ψ ≤ x) = P(t_k ≤ √k·tan x) is the classical finite series of Student's
 * CDF in the angle (Abramowitz & Stegun 26.7.3–4). The recursion carries the mass of the paths
 * still below their boundary on a grid of angles from look to look; each cell's mass moves by
 * these exact conditional CDFs. (Derived here; the crossing chances are checked against
 * simulation in test/sequential.test.ts.)
 */

const HALF_PI = Math.PI / 2;

/** P(atan(T/√df) ≤ θ) for T ~ Student's t with `df` degrees of freedom, θ in (−π/2, π/2). */
export function tAngleCdf(df: number, theta: number): number {
  if (theta <= -HALF_PI) return 0;
  if (theta >= HALF_PI) return 1;
  const [s, c] = [Math.sin(theta), Math.cos(theta)];
  const c2 = c * c;
  let term = 1;
  let sum = 1;
  if (df % 2 === 1) {
    // Odd df: ½ + (θ + sin θ cos θ (1 + ⅔cos²θ + (2·4)/(3·5)cos⁴θ + …)) / π, the series empty for df = 1.
    if (df === 1) return 0.5 + theta / Math.PI;
    for (let j = 1; j <= (df - 3) / 2; j++) sum += (term *= (c2 * 2 * j) / (2 * j + 1));
    return 0.5 + (theta + s * c * sum) / Math.PI;
  }
  // Even df: ½ + ½ sin θ (1 + ½cos²θ + (1·3)/(2·4)cos⁴θ + …).
  for (let j = 1; j <= (df - 2) / 2; j++) sum += (term *= (c2 * (2 * j - 1)) / (2 * j));
  return 0.5 + 0.5 * s * sum;
}

/** How the angle after k values moves with the next one: P(ω_{k+1} ≤ v | ω_k), prepared per ω_k. */
function stepFrom(k: number, omega: number): (v: number) => number {
  const a = Math.sqrt(k) * Math.sin(omega);
  const amplitude = Math.sqrt(a * a + 1) / Math.sqrt(k + 1);
  const phi = Math.atan(a);
  return (v) => {
    const y = Math.sin(v) / amplitude;
    if (y >= 1) return 1;
    if (y <= -1) return 0;
    // ψ + φ runs over (φ − π/2, φ + π/2); sin(ψ + φ) ≤ sin β on the part of it at or below β and at or beyond π − β (or −π − β).
    const beta = Math.asin(y);
    return tAngleCdf(k, beta - phi) - tAngleCdf(k, -Math.PI - beta - phi) + 1 - tAngleCdf(k, Math.PI - beta - phi);
  };
}

/** Cells of the angle grid the recursion carries (200 puts the last boundary within about 0.001 of its limit). */
export const GRID = 200;

const cache = new Map<string, number[]>();

/**
 * One-sided boundaries c_k₀ … c_K on the t scale: for normal values of mean 0 and any spread,
 * P(T_k ≥ c_k at some look k₀ ≤ k ≤ K) = γ, spent up to look k as γ·(k/K)^ρ. Remembered, as the
 * same design is asked for after every round.
 */
export function tBoundaries(gamma: number, first: number, last: number, rho: number): number[] {
  const key = `${gamma},${first},${last},${rho}`;
  let out = cache.get(key);
  if (out === undefined) cache.set(key, (out = computeBoundaries(gamma, first, last, rho)));
  return out;
}

function computeBoundaries(gamma: number, first: number, last: number, rho: number): number[] {
  if (!(gamma > 0 && gamma < 0.5)) throw new Error(`tBoundaries needs γ strictly between 0 and 0.5: got ${gamma}`);
  if (!(Number.isInteger(first) && first >= 2 && Number.isInteger(last) && last >= first)) throw new Error(`tBoundaries needs looks 2 ≤ first ≤ last, whole rounds: got ${first} to ${last}`);
  const boundaries: number[] = [];
  let centers: number[] = [];
  let masses: number[] = [];
  let spent = 0;
  for (let k = first; k <= last; k++) {
    // The angle's CDF at look k over the paths that have not crossed: at the first look T ~ t_{k−1}, tan ω = T/√(k−1).
    const steps = k === first ? [] : centers.map((c) => stepFrom(k - 1, c));
    const cdf = (v: number) => (k === first ? tAngleCdf(k - 1, v) : steps.reduce((s, step, i) => s + masses[i] * step(v), 0));
    const below = k === first ? 1 : masses.reduce((s, m) => s + m, 0);
    const target = gamma * (k / last) ** rho - spent;
    let [lo, hi] = [-HALF_PI, HALF_PI];
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (below - cdf(mid) > target) lo = mid;
      else hi = mid;
    }
    const b = hi;
    spent += below - cdf(b);
    boundaries.push(Math.sqrt(k - 1) * Math.tan(b));
    // The mass left below the boundary, on GRID cells between −π/2 and it.
    const width = (b + HALF_PI) / GRID;
    const next: number[] = [];
    let previous = 0;
    for (let j = 1; j <= GRID; j++) {
      const f = cdf(-HALF_PI + width * j);
      next.push(f - previous);
      previous = f;
    }
    centers = next.map((_, j) => -HALF_PI + width * (j + 0.5));
    masses = next;
  }
  return boundaries;
}
