/** The arithmetic behind `bench-driver`'s verdicts (src/run/driver-bench.ts); the run itself needs PostgreSQL and is not run here. */
import { describe, expect, test } from "bun:test";
import { stats, verdicts } from "../src/run/driver-bench";

describe("window statistics", () => {
  test("mean, sample CV and drift over thirds of the windows", () => {
    const s = stats([100, 100, 100, 90, 90, 90]);
    expect(s.mean).toBe(95);
    expect(s.cv).toBeCloseTo(Math.sqrt(30) / 95, 10); // sample variance 150/5
    expect(s.drift).toBeCloseTo(-0.1, 10); // last two 90 ÷ first two 100 − 1
  });

  test("five windows compare the last one with the first; one window has no spread and no drift", () => {
    expect(stats([100, 50, 50, 50, 104]).drift).toBeCloseTo(0.04, 10);
    expect(stats([28000, 20000, 14000, 10000, 7400]).drift).toBeCloseTo(7400 / 28000 - 1, 10);
    expect(stats([42])).toEqual({ mean: 42, cv: 0, drift: 0 });
    expect(() => stats([])).toThrow("at least one window");
  });
});

describe("verdicts", () => {
  const steady = (mean: number) => ({ mean, cv: 0.01, drift: 0.01 });
  const byName = (checks: ReturnType<typeof verdicts>) => Object.fromEntries(checks.map((c) => [c.name, c.pass]));

  test("the service at half the raw driver's pace or more, both steady and no errors: all pass", () => {
    expect(verdicts(steady(20000), steady(10000), { raw: 0, service: 0 }).every((c) => c.pass)).toBe(true);
  });

  test("each check fails on its own: ratio under 0.5, drift beyond ±5 % either way, any error", () => {
    expect(byName(verdicts(steady(20000), steady(9999), { raw: 0, service: 0 }))["service ≥ 0.5 × raw"]).toBe(false);
    const slowing = verdicts({ mean: 20000, cv: 0.3, drift: -0.74 }, { mean: 12000, cv: 0.01, drift: 0.051 }, { raw: 0, service: 2 });
    expect(byName(slowing)).toEqual({
      "service ≥ 0.5 × raw": true,
      "raw drift within ±5 %": false,
      "service drift within ±5 %": false,
      "no errors": false,
    });
    expect(slowing.find((c) => c.name.startsWith("raw drift"))!.value).toBe("-74.0 %");
  });
});
