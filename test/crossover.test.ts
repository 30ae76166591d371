/**
 * Where two cost lines cross (src/plans/model.ts): Welch–Satterthwaite's degrees of freedom for
 * the two fits' summed variances, against a hand computation, and Fieller's interval with them
 * covering the true crossing about 95 % of the time. The fits themselves: test/model.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { mulberry32 } from "../src/determinism.js";
import { crossover, fitLine, lineOf, welchDf } from "../src/plans/model";

describe("Welch–Satterthwaite", () => {
  test("by hand: variances 2 (5 df) and 3 (10 df) give 25 / (4/5 + 9/10) = 14.706 df; equal parts twice the df; one part alone its own", () => {
    expect(welchDf([[2, 5], [3, 10]])).toBeCloseTo(25 / 1.7, 10);
    expect(welchDf([[1, 10], [1, 10]])).toBeCloseTo(20, 10);
    expect(welchDf([[1, 10], [0, 4]])).toBeCloseTo(10, 10);
    // Never below the smaller df, and no variance at all leaves it.
    expect(welchDf([[0, 10], [0, 4]])).toBe(4);
  });
});

describe("Fieller's interval with Welch's df", () => {
  test("holds the true crossing in about 95 % of 2,000 simulations (two fits of 12 points, 10 df each)", () => {
    const random = mulberry32(12);
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const noisy = (fixed: number, marginal: number, sd: number) => fitLine([50, 100, 200, 400].flatMap((x) => [1, 2, 3].map(() => ({ x, y: fixed + marginal * x + sd * normal() }))));
    let inside = 0;
    for (let s = 0; s < 2000; s++) {
      const c = crossover("a", lineOf(noisy(0.5, 0.001, 0.02)), "b", lineOf(noisy(0.1, 0.003, 0.02)));
      if (c.ci && c.ci[0] <= 200 && 200 <= c.ci[1]) inside++;
    }
    console.log(`Fieller with Welch's df: ${inside / 2000} of 2,000 intervals hold the crossing`);
    expect(inside / 2000).toBeGreaterThan(0.935);
    expect(inside / 2000).toBeLessThan(0.965);
  });
});
