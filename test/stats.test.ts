/**
 * The statistics of docs/design.md §13 (src/stats/stats.ts) against values known without it: textbook and
 * scipy-documented Mann–Whitney results, hand counts checked by brute-force enumeration of every
 * assignment of the pooled values, and bootstrap intervals whose answer is forced by the data.
 */
import { describe, expect, test } from "bun:test";
import { mulberry32 } from "../src/determinism.js";
import { medianInterval, medianRanks } from "../src/stats/order-statistics";
import { ALPHA, NOISY_CV, bootstrapMedianCI, compare, cv, mannWhitney, median, ratioCI, summarize } from "../src/stats/stats";

/** Every k-subset of 0…n−1, in lexicographic order. */
function* subsets(n: number, k: number, start = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === k) {
    yield chosen;
    return;
  }
  for (let i = start; i <= n - (k - chosen.length); i++) yield* subsets(n, k, i + 1, [...chosen, i]);
}

/** U of a straight from its definition (pairs x > y, ties ½), with no ranks involved. */
function pairsU(a: readonly number[], b: readonly number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u;
}

/**
 * The permutation null by brute force: every way of drawing |a| of the pooled values as "a".
 * Returns the two-sided p (assignments at least as far from the mean as observed) and the mean and
 * variance of U over all of them.
 */
function enumerate(a: readonly number[], b: readonly number[]) {
  const pooled = [...a, ...b];
  const us: number[] = [];
  for (const picked of subsets(pooled.length, a.length)) {
    const chosen = new Set(picked);
    us.push(pairsU(picked.map((i) => pooled[i]), pooled.filter((_, i) => !chosen.has(i))));
  }
  const mean = us.reduce((s, u) => s + u, 0) / us.length;
  const variance = us.reduce((s, u) => s + (u - mean) ** 2, 0) / us.length;
  const distance = Math.abs(pairsU(a, b) - mean);
  const p = us.filter((u) => Math.abs(u - mean) >= distance - 1e-9).length / us.length;
  return { p, mean, variance, count: us.length };
}

/** Upper normal tail 1 − Φ(z), z ≥ 0, by Abramowitz & Stegun 26.2.17 (|error| < 7.5e-8): independent of src/stats/stats.ts's erf. */
function normalTail(z: number): number {
  const t = 1 / (1 + 0.2316419 * z);
  const poly = t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return (Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI)) * poly;
}

describe("Mann–Whitney U", () => {
  test("complete separation, n1 = n2 = 5: U = 0 and exact two-sided p = 2/C(10, 5) = 2/252 (standard table)", () => {
    const r = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(r).toEqual({ u: 0, p: 2 / 252, method: "exact" });
    expect(r.p).toBeCloseTo(0.00794, 5);
    // From b's side U is n1·n2 − 0 and p is the same.
    expect(mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])).toEqual({ u: 25, p: 2 / 252, method: "exact" });
  });

  test("scipy.stats.mannwhitneyu's documented example (males vs females): U1 = 17, exact p = 0.1111…, asymptotic p = 0.11134688653314041", () => {
    const males = [19, 22, 16, 29, 24];
    const females = [20, 11, 17, 12];
    const exact = mannWhitney(males, females);
    expect(exact.method).toBe("exact");
    expect(exact.u).toBe(17);
    expect(exact.p).toBeCloseTo(0.1111111111111111, 12);
    expect(exact.p).toBeCloseTo(enumerate(males, females).p, 12);
    const normal = mannWhitney(males, females, { method: "normal" });
    expect(normal.u).toBe(17);
    expect(Math.abs(normal.p - 0.11134688653314041)).toBeLessThan(1e-6);
  });

  test("partial overlap, counted by hand: a = [1, 2, 4, 6], b = [3, 5, 7, 8] gives U = 3, p = 0.2", () => {
    // U = pairs a > b: 4 > 3, 6 > 3, 6 > 5 → 3. Under the null all C(8, 4) = 70 orderings are equally
    // likely; U ≤ 3 needs U = 0 (1 way), 1 (1), 2 (2: {1+1, 2}), 3 (3: {1+1+1, 1+2, 3}) → 7 ways, and
    // by symmetry 7 more with U ≥ 13: p = 14/70 = 0.2.
    const a = [1, 2, 4, 6];
    const b = [3, 5, 7, 8];
    expect(mannWhitney(a, b)).toEqual({ u: 3, p: 14 / 70, method: "exact" });
    const brute = enumerate(a, b);
    expect(brute.count).toBe(70);
    expect(brute.p).toBeCloseTo(0.2, 12);
  });

  test("the exact distribution agrees with brute-force enumeration for unequal sizes and random data", () => {
    let state = 12345;
    const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (const [m, n] of [[1, 1], [2, 5], [3, 4], [5, 5], [6, 3], [7, 7], [4, 9]]) {
      // Distinct values: the exact path is only taken without ties.
      const pool = Array.from({ length: m + n }, (_, i) => i + next() * 0.5).sort(() => next() - 0.5);
      const a = pool.slice(0, m);
      const b = pool.slice(m);
      const r = mannWhitney(a, b);
      expect(r.method).toBe("exact");
      expect(r.u).toBe(pairsU(a, b));
      expect(r.p).toBeCloseTo(enumerate(a, b).p, 12);
    }
  });

  test("exact up to 20 per side: complete separation at 20 vs 20 gives p = 2/C(40, 20); more values use the normal approximation", () => {
    const low = Array.from({ length: 20 }, (_, i) => i);
    const high = low.map((x) => x + 100);
    const r = mannWhitney(low, high);
    expect(r.method).toBe("exact");
    expect(r.p * 137846528820).toBeCloseTo(2, 9);
    expect(mannWhitney([...low, 20.5], high).method).toBe("normal");
  });

  test("ties are exact too: the permutation p with midranks, equal to brute-force enumeration", () => {
    const a = [1, 2, 2, 3, 3, 4, 5];
    const b = [3, 4, 4, 5, 6, 6, 7];
    const r = mannWhitney(a, b);
    expect(r.method).toBe("exact");
    const brute = enumerate(a, b);
    expect(r.u).toBe(pairsU(a, b));
    expect(r.p).toBeCloseTo(brute.p, 12);
    // The normal approximation stays available: its tie-corrected variance is exactly the
    // permutation variance of U, and its p is close to the exact one it stands for.
    const normal = mannWhitney(a, b, { method: "normal" });
    expect(brute.mean).toBeCloseTo(24.5, 9);
    const z = (Math.abs(normal.u - brute.mean) - 0.5) / Math.sqrt(brute.variance);
    expect(Math.abs(normal.p - 2 * normalTail(z))).toBeLessThan(1e-6);
    expect(Math.abs(normal.p - brute.p)).toBeLessThan(0.02);
  });

  test("a single tie keeps the exact p: [1, 2, 3] vs [5, 6, 6, 7] is 2/35 = 0.057, not the approximation's 0.0497 (no verdict at α = 0.05)", () => {
    const r = mannWhitney([1, 2, 3], [5, 6, 6, 7]);
    expect(r).toEqual({ u: 0, p: 2 / 35, method: "exact" });
    expect(r.p).toBeCloseTo(enumerate([1, 2, 3], [5, 6, 6, 7]).p, 12);
    expect(mannWhitney([1, 2, 3], [5, 6, 6, 7], { method: "normal" }).p).toBeLessThan(0.05);
    expect(compare([1, 2, 3], [5, 6, 6, 7], { seed: 1, resamples: 500 }).verdict).toBe("no clear difference");
  });

  test("random data with ties: exact agrees with enumeration", () => {
    const rnd = (s: number) => () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const r = rnd(7);
    for (let k = 0; k < 20; k++) {
      const a = Array.from({ length: 4 + (k % 3) }, () => Math.floor(r() * 6));
      const b = Array.from({ length: 3 + (k % 4) }, () => Math.floor(r() * 6));
      expect(mannWhitney(a, b).p).toBeCloseTo(enumerate(a, b).p, 12);
    }
  });

  test("all values equal, or a difference within the continuity correction, gives p = 1", () => {
    expect(mannWhitney([5, 5, 5], [5, 5])).toEqual({ u: 3, p: 1, method: "exact" });
    expect(mannWhitney([5, 5, 5], [5, 5], { method: "normal" })).toEqual({ u: 3, p: 1, method: "normal" });
    expect(mannWhitney([1, 4], [2, 3]).p).toBe(1);
  });
});

describe("bootstrap of the median", () => {
  const a = [10, 10.3, 9.8, 10.1, 9.9];

  test("constant data: a zero-width interval at the constant", () => {
    expect(bootstrapMedianCI([7.25, 7.25, 7.25, 7.25], { seed: 1 })).toEqual([7.25, 7.25]);
    expect(summarize([3], 9)).toEqual({ median: 3, ci: [3, 3], ci_level: 0, cv: null, n: 1 });
  });

  test("the same seed gives identical numbers, pinned here so a change of scheme or generator shows; another seed differs", () => {
    const xs = [10, 12, 9, 11.5, 10.5, 13, 8.5, 9.7];
    expect(bootstrapMedianCI(xs, { seed: 42 })).toEqual(bootstrapMedianCI(xs, { seed: 42 }));
    // mulberry32 draws are the same in every JS engine, and so is the arithmetic after them.
    expect(bootstrapMedianCI(xs, { seed: 42, resamples: 200 })).toEqual([9.35, 12]);
    expect(bootstrapMedianCI(xs, { seed: 43, resamples: 200 })).toEqual([9.0975, 12]);
  });

  test("summarize: the median with its exact interval (5 values: [min, max], covering 15/16), the CV, n", () => {
    const s = summarize(a, 5);
    expect(s.median).toBe(10);
    expect(s.ci).toEqual([9.8, 10.3]);
    expect(s.ci_level).toBeCloseTo(1 - 2 / 32, 12);
    expect(s.n).toBe(5);
  });

  test("the seed, resamples and level are checked", () => {
    expect(() => bootstrapMedianCI(a, { seed: 1.5 })).toThrow("bootstrapMedianCI needs a seed that is an integer 0…4294967295 (it is recorded with the result): got 1.5");
    expect(() => bootstrapMedianCI(a, { seed: 1, resamples: 0 })).toThrow("bootstrapMedianCI needs resamples to be a positive integer: got 0");
    expect(() => bootstrapMedianCI(a, { seed: 1, level: 95 })).toThrow("bootstrapMedianCI needs level strictly between 0 and 1: got 95");
  });
});

describe("the median's exact interval", () => {
  /** P(Bin(n, ½) ≤ j) counted by hand: Σ C(n, i) / 2^n. */
  const lowerTail = (n: number, j: number) => {
    let c = 1;
    let sum = 0;
    for (let i = 0; i <= j; i++) {
      sum += c;
      c = (c * (n - i)) / (i + 1);
    }
    return sum / 2 ** n;
  };

  test("ranks for n = 5…10 against the binomial: [x(k), x(n+1−k)] with k the largest whose coverage 1 − 2·P(Bin(n, ½) ≤ k − 1) reaches 95 %", () => {
    // Coverages by hand: n = 5 [1, 5] 30/32; 6 [1, 6] 62/64; 7 [1, 7] 126/128; 8 [1, 8] 254/256 ([2, 7] 238/256 = 0.930 < 95 %);
    // 9 [2, 8] 492/512; 10 [2, 9] 1002/1024 ([3, 8] 912/1024 = 0.891).
    const expected: Record<number, [number, number, number]> = { 5: [1, 5, 30 / 32], 6: [1, 6, 62 / 64], 7: [1, 7, 126 / 128], 8: [1, 8, 254 / 256], 9: [2, 8, 492 / 512], 10: [2, 9, 1002 / 1024] };
    for (let n = 5; n <= 10; n++) {
      const { lo, hi, coverage } = medianRanks(n);
      expect([lo, hi]).toEqual(expected[n].slice(0, 2));
      expect(coverage).toBeCloseTo(expected[n][2], 12);
      expect(coverage).toBeCloseTo(1 - 2 * lowerTail(n, lo - 1), 12);
      // The next narrower interval would cover less than 95 %.
      expect(1 - 2 * lowerTail(n, lo)).toBeLessThan(0.95);
    }
    // Published: n = 17 gives x(5)–x(13), n = 30 x(10)–x(21).
    expect(medianRanks(17)).toMatchObject({ lo: 5, hi: 13 });
    expect(medianRanks(30)).toMatchObject({ lo: 10, hi: 21 });
  });

  test("below 6 values no interval reaches 95 %: [min, max] says what it covers (94 % at 5, 88 % at 4, 75 % at 3)", () => {
    expect(medianRanks(4).coverage).toBeCloseTo(0.875, 12);
    expect(medianRanks(3).coverage).toBeCloseTo(0.75, 12);
    expect(medianInterval([3, 1, 2])).toEqual({ ci: [1, 3], level: 0.75 });
    expect(() => medianRanks(0)).toThrow("medianRanks needs a positive whole number of values: got 0");
  });

  test("it covers what it says: 20,000 samples of n = 4 and n = 8 from a skewed distribution", () => {
    const random = mulberry32(6);
    for (const n of [4, 8]) {
      let covered = 0;
      // Exponential with median ln 2.
      for (let s = 0; s < 20_000; s++) {
        const { ci } = medianInterval(Array.from({ length: n }, () => -Math.log(1 - random())));
        if (ci[0] <= Math.LN2 && Math.LN2 <= ci[1]) covered++;
      }
      expect(Math.abs(covered / 20_000 - medianRanks(n).coverage)).toBeLessThan(0.01);
    }
  });
});

describe("median and CV", () => {
  test("median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  test("cv: sample standard deviation ÷ mean", () => {
    // Mean 10.02; squared deviations .0004 + .0784 + .0484 + .0064 + .0144 = .148; s = √(.148 / 4).
    expect(cv([10, 10.3, 9.8, 10.1, 9.9])).toBeCloseTo(Math.sqrt(0.148 / 4) / 10.02, 12);
    // Mean 5, s = √((4 + 0 + 4) / 2) = 2.
    expect(cv([3, 5, 7])).toBeCloseTo(0.4, 12);
    expect(cv([3, 5, 7])! > NOISY_CV).toBe(true);
    expect(cv([100, 101, 99])! > NOISY_CV).toBe(false);
  });

  test("cv is null for a single value or a zero mean", () => {
    expect(cv([4])).toBeNull();
    expect(cv([-1, 1])).toBeNull();
  });

  test("empty or non-finite input fails with the contract and what was received", () => {
    expect(() => median([])).toThrow("median needs at least one value in xs: got []");
    expect(() => cv([])).toThrow("cv needs at least one value in xs: got []");
    expect(() => summarize([], 1)).toThrow("summarize needs at least one value in xs: got []");
    expect(() => bootstrapMedianCI([], { seed: 1 })).toThrow("bootstrapMedianCI needs at least one value in xs: got []");
    expect(() => mannWhitney([1], [])).toThrow("mannWhitney needs at least one value in b: got []");
    expect(() => compare([], [1], { seed: 1 })).toThrow("compare needs at least one value in a: got []");
    expect(() => median([1, Number.NaN])).toThrow("median needs finite numbers in xs: got NaN at index 1");
  });
});

describe("comparing two cases", () => {
  const a = [10, 10.3, 9.8, 10.1, 9.9];
  const b = [20.2, 19.7, 20, 20.4, 19.9];

  test("a clear 2× difference at R = 5: ratio 0.5, interval excluding 1, p < 0.05, verdict lower", () => {
    const r = compare(a, b, { seed: 11 });
    expect(r.ratio).toBeCloseTo(0.5, 12);
    expect(r.ci[1]).toBeLessThan(1);
    expect(r.ci[0]).toBeLessThanOrEqual(r.ratio);
    expect(r.ci[1]).toBeGreaterThanOrEqual(r.ratio);
    expect(r.p_value).toBe(2 / 252);
    expect(r.p_value).toBeLessThan(ALPHA);
    expect(r.verdict).toBe("lower");
    expect(r.better).toBeUndefined();
  });

  test("b against a: higher; lowerIsBetter names the better case", () => {
    const r = compare(b, a, { seed: 11, lowerIsBetter: true });
    expect(r.ratio).toBeCloseTo(2, 12);
    expect(r.ci[0]).toBeGreaterThan(1);
    expect(r.verdict).toBe("higher");
    expect(r.better).toBe("b");
    expect(compare(b, a, { seed: 11, lowerIsBetter: false }).better).toBe("a");
  });

  test("two overlapping noisy samples: no clear difference", () => {
    const r = compare([10, 12, 9, 11.5, 10.5], [10.8, 9.5, 11.8, 10.2, 11], { seed: 3, lowerIsBetter: true });
    expect(r.ci[0]).toBeLessThan(1);
    expect(r.ci[1]).toBeGreaterThan(1);
    expect(r.p_value).toBeGreaterThanOrEqual(ALPHA);
    expect(r.verdict).toBe("no clear difference");
    expect(r.better).toBeNull();
  });

  test("R = 3 cannot reach p < 0.05 with the exact test, so even a clear gap gives no verdict", () => {
    const r = compare([1, 1.01, 0.99], [2, 2.01, 1.99], { seed: 1 });
    expect(r.ci[1]).toBeLessThan(1);
    expect(r.p_value).toBeCloseTo(0.1, 12);
    expect(r.verdict).toBe("no clear difference");
  });

  test("the ratio's interval: same seed identical, and the denominator must be positive", () => {
    expect(ratioCI(a, b, { seed: 8 })).toEqual(ratioCI(a, b, { seed: 8 }));
    expect(() => ratioCI(a, [1, 0, 2], { seed: 8 })).toThrow("ratioCI needs every value of b (the denominator) to be positive: got 0 at index 1");
  });
});
