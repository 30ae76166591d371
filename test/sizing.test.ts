/**
 * The power behind "rounds needed" (src/stats/sizing.ts, docs/design.md §23) and the distributions it
 * stands on (src/stats/distributions.ts): one-sided t tails and Φ against tables, the expectation
 * over a sample standard deviation against its moments, the power against R's power.t.test, and
 * the sizes it gives against the power they promise.
 */
import { describe, expect, test } from "bun:test";
import { expectOverSd, normalCdf, tUpper } from "../src/stats/distributions";
import { detectable, differencePower, equivalencePower, PLANNED_POWER, roundsToDifference, roundsToEquivalence } from "../src/stats/sizing";

describe("the distributions under the power", () => {
  test("one-sided tails, and Φ: P(T ≥ 2) = 0.05097 at 5 df, Φ(1.959964) = 0.975", () => {
    expect(tUpper(2, 5)).toBeCloseTo(0.1019395 / 2, 6);
    expect(tUpper(-2, 5)).toBeCloseTo(1 - 0.1019395 / 2, 6);
    expect(tUpper(Infinity, 3)).toBe(0);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
  });

  test("the expectation over a sample standard deviation integrates to 1, and E[S²] = σ², at every df", () => {
    for (const df of [1, 2, 4, 9, 38, 499]) {
      expect(expectOverSd(df, () => 1)).toBeCloseTo(1, 6);
      expect(expectOverSd(df, (u) => u * u)).toBeCloseTo(1, 6);
    }
  });

  test("the t-test's power equals R's power.t.test(n = 20, delta = 1): 0.8689528 (df 38, noncentrality √10)", () => {
    // Two samples of 20 with sd 1 are a t-test on 38 df at noncentrality 1·√(20/2); 39 rounds with
    // a mean log ratio of √(10/39) and spread 1 are the same test.
    expect(differencePower(Math.sqrt(10 / 39), 1, 39, 0.05)).toBeCloseTo(0.8689528, 5);
  });
});

describe("sizes at 80 % power on this machine's noise: 83 % (PLANNED_POWER) under normal noise", () => {
  test("the difference R rounds detect is the one with 83 % normal-theory power; rounds to equivalence give 83 % and one fewer does not", () => {
    expect(PLANNED_POWER).toBe(0.83);
    for (const [R, pairs] of [[3, 1], [5, 1], [5, 3], [8, 6]]) {
      const d = detectable(0.05, R, pairs)!;
      expect(differencePower(Math.log(1 + d), 0.05, R, 0.05 / pairs)).toBeCloseTo(PLANNED_POWER, 6);
    }
    for (const mean of [0, Math.log(1.01), Math.log(1.03)]) {
      const need = roundsToEquivalence(mean, 0.04, Math.log(1.05))!;
      expect(equivalencePower(mean, 0.04, need, Math.log(1.05), 0.05)).toBeGreaterThanOrEqual(PLANNED_POWER);
      expect(equivalencePower(mean, 0.04, need - 1, Math.log(1.05), 0.05)).toBeLessThan(PLANNED_POWER);
    }
    expect(roundsToEquivalence(Math.log(1.05), 0.04, Math.log(1.05))).toBeNull();
    expect(roundsToDifference(0, 0.04)).toBeNull();
  });

  test("no spread: 2 rounds decide any difference and show any ratio inside the band; a family's size must be a whole number", () => {
    expect(roundsToDifference(0.01, 0)).toBe(2);
    expect(roundsToEquivalence(0.01, 0, Math.log(1.05))).toBe(2);
    expect(detectable(0.05, 1)).toBeNull();
    expect(() => detectable(0.05, 5, 0)).toThrow("pairs must be a positive integer (the pairs of the metric's family): got 0");
  });

  test("beyond 500 rounds the answer is none, not a number: a ratio of 1.005 at spread 0.05 would take more to prove a difference", () => {
    expect(roundsToDifference(Math.log(1.005), 0.05)).toBeNull();
    expect(roundsToDifference(Math.log(1.02), 0.05)).toBeGreaterThan(30);
  });
});
