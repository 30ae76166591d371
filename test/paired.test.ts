/**
 * The paired statistics of DESIGN §18 (src/stats/paired.ts): Student's t and its quantiles against
 * published values, a textbook paired example, forced answers (constant ratios), and — on real
 * A/A rounds recorded on this machine (test/fixtures/aa-rounds.json) — the false-verdict rate
 * and the power of the whole procedure, by simulation.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../src/determinism.js";
import { incompleteBeta, tQuantile, tTwoSided } from "../src/stats/distributions";
import { holm, pairedFamily, pairedRatio, pairedT, resolvable, roundsNeeded, signFlipP } from "../src/stats/paired";

describe("Student's t", () => {
  test("quantiles equal the published table (t_{0.975}: 12.706 at 1 df, 4.303 at 2, 3.182 at 3, 2.776 at 4, 2.262 at 9, 1.962 at 1000)", () => {
    const table: [number, number][] = [[1, 12.7062047], [2, 4.3026527], [3, 3.1824463], [4, 2.7764451], [9, 2.2621572], [1000, 1.9623391]];
    for (const [df, q] of table) expect(tQuantile(0.975, df)).toBeCloseTo(q, 6);
    expect(tQuantile(0.995, 5)).toBeCloseTo(4.0321430, 6);
  });

  test("two-sided tails: P(|T| ≥ 2) = 0.10194 at 5 df; at 1 df the Cauchy's 1 − 2·atan(t)/π", () => {
    expect(tTwoSided(2, 5)).toBeCloseTo(0.1019395, 6);
    for (const t of [0.5, 1, 3, 10]) expect(tTwoSided(t, 1)).toBeCloseTo(1 - (2 * Math.atan(t)) / Math.PI, 10);
    expect(tTwoSided(0, 7)).toBeCloseTo(1, 12);
  });

  test("the incomplete beta function at closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a, I_½(a, a) = ½", () => {
    for (const x of [0.1, 0.37, 0.9]) {
      expect(incompleteBeta(x, 1, 1)).toBeCloseTo(x, 12);
      expect(incompleteBeta(x, 3.5, 1)).toBeCloseTo(x ** 3.5, 12);
      expect(incompleteBeta(0.5, 4.5, 4.5)).toBeCloseTo(0.5, 12);
    }
  });
});

describe("the paired t-test", () => {
  // Student's (1908) sleep data: extra hours of sleep under two drugs, the same 10 patients; the
  // differences are textbook material (R's `t.test(extra ~ group, data = sleep, paired = TRUE)`).
  const sleep = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4];

  test("Student's sleep data: mean 1.58, t = 4.0621, df 9, p = 0.002833, 95 % CI 0.7001–2.4599", () => {
    const r = pairedT(sleep);
    expect(r.mean).toBeCloseTo(1.58, 12);
    expect(r.t).toBeCloseTo(4.062128, 5);
    expect(r.p).toBeCloseTo(0.002832890, 8);
    expect(r.ci[0]).toBeCloseTo(0.7001142, 6);
    expect(r.ci[1]).toBeCloseTo(2.4598858, 6);
  });

  test("constant ratios give a zero-width interval at the ratio", () => {
    const r = pairedRatio({ rounds: [1, 2, 3, 4].map((round) => ({ round, a: 3 * round, b: 1.5 * round })) });
    expect(r.ratio).toBeCloseTo(2, 12);
    expect(r.ci[0]).toBeCloseTo(2, 12);
    expect(r.ci[1]).toBeCloseTo(2, 12);
    expect(r.verdict).toBe("higher");
    const same = pairedRatio({ rounds: [1, 2, 3].map((round) => ({ round, a: round, b: round })) });
    expect(same).toMatchObject({ ratio: 1, ci: [1, 1], verdict: "equivalent", rounds_needed: null });
  });

  test("a 2× difference through a drifting machine is decided at R = 4; unpaired, the machine's drift would swamp it", () => {
    // The machine's speed moves 3× between rounds; within a round both targets share it.
    const machine = [1, 2.1, 0.7, 3];
    const noise = [1.03, 0.98, 1.01, 0.97];
    const r = pairedRatio({ rounds: machine.map((m, i) => ({ round: i + 1, a: 2 * m * noise[i], b: m })) });
    expect(r.verdict).toBe("higher");
    expect(r.ci[0]).toBeGreaterThan(1.8);
    expect(r.ci[1]).toBeLessThan(2.2);
    expect(r.p_sign_flip).toBeNull(); // below 6 rounds it says nothing
  });

  test("the sign-flip p is exact: the most extreme of 2^6 patterns has p = 2/64; Holm's adjustment by hand", () => {
    expect(signFlipP([1, 2, 3, 4, 5, 6])).toBe(2 / 64);
    expect(signFlipP([1, -1, 1, -1])).toBe(1);
    expect(holm([0.01, 0.04, 0.03])).toEqual([0.03, 0.06, 0.06]);
    expect(holm([0.2])).toEqual([0.2]);
  });

  test("inconclusive says what it would take; equivalence needs the whole interval within ±5 %", () => {
    const logs = [0.1, -0.05, 0.12, 0.02];
    const r = pairedRatio({ rounds: logs.map((d, i) => ({ round: i + 1, a: Math.exp(d), b: 1 })) });
    expect(r.verdict).toBe("inconclusive");
    const sd = pairedT(logs).sd;
    expect(r.resolvable).toBeCloseTo(Math.exp((3.1824463 * sd) / 2) - 1, 6);
    // The rounds needed resolve the observed mean at that spread, and one fewer does not.
    const need = roundsNeeded(pairedT(logs).mean, sd)!;
    expect(resolvable(sd, need)!).toBeLessThan(Math.exp(pairedT(logs).mean) - 1);
    expect(resolvable(sd, need - 1)!).toBeGreaterThanOrEqual(Math.exp(pairedT(logs).mean) - 1);
    expect(r.rounds_needed).toBe(need);
    const close = pairedRatio({ rounds: [0.01, -0.01, 0.015, -0.005, 0.0].map((d, i) => ({ round: i + 1, a: Math.exp(d), b: 1 })) });
    expect(close.verdict).toBe("equivalent");
    expect(pairedRatio({ rounds: [0.01, -0.01, 0.015, -0.005, 0.0].map((d, i) => ({ round: i + 1, a: Math.exp(d), b: 1 })) }, { equivalence: 0.005 }).verdict).toBe("inconclusive");
  });

  test("a round without a usable value on either side is lost, with the reason; a family adjusts its p-values together", () => {
    const r = pairedRatio({ rounds: [{ round: 1, a: 2, b: 1 }, { round: 2, a: null, b: 1, whyA: "a failed" }, { round: 3, a: 0, b: 1 }, { round: 4, a: 2.1, b: 1 }] });
    expect(r.rounds).toBe(2);
    expect(r.lost).toEqual([{ round: 2, why: "a failed" }, { round: 3, why: "a ratio needs positive values: 0 / 1" }]);
    const empty = pairedRatio({ rounds: [{ round: 1, a: null, b: null }] });
    expect(empty.verdict).toBe("inconclusive");
    const family = pairedFamily([r, r, r]);
    expect(family[0].p_adjusted).toBeCloseTo(Math.min(1, 3 * r.p_value), 12);
  });
});

describe("simulation on recorded noise (test/fixtures/aa-rounds.json)", () => {
  const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "aa-rounds.json"), "utf8")) as { sets: { command: string; rounds: { a: number; b: number }[] }[] };
  const logs = fixture.sets.flatMap((s) => s.rounds.map((r) => Math.log(r.a / r.b)));
  const SIMULATIONS = 2000;

  /** R rounds drawn with replacement from the recorded ones; under "no difference" each may come either way round. */
  function simulate(rounds: number, effect: number, seed: number) {
    const random = mulberry32(seed);
    const verdicts = { lower: 0, higher: 0, equivalent: 0, inconclusive: 0 };
    for (let s = 0; s < SIMULATIONS; s++) {
      const drawn = Array.from({ length: rounds }, (_, i) => {
        const d = logs[Math.floor(random() * logs.length)] * (random() < 0.5 ? -1 : 1);
        return { round: i + 1, a: Math.exp(d) * effect, b: 1 };
      });
      verdicts[pairedRatio({ rounds: drawn }).verdict]++;
    }
    return verdicts;
  }

  test("the fixture is real rounds of this machine, enough of them", () => {
    expect(logs.length).toBeGreaterThanOrEqual(12);
    for (const s of fixture.sets) expect(s.command).toMatch(/^just compare --rate \d+ \d+s --cases case2,case2/);
  });

  for (const rounds of [4, 5, 8]) {
    test(`A/A at R = ${rounds}: a false lower or higher in at most 5 % of ${SIMULATIONS} simulated comparisons`, () => {
      const v = simulate(rounds, 1, 100 + rounds);
      expect((v.lower + v.higher) / SIMULATIONS).toBeLessThanOrEqual(0.05);
    });
  }

  test(`a 20 % difference at R = 5 is decided (higher) in at least 80 % of ${SIMULATIONS} simulated comparisons, and never the wrong way`, () => {
    const v = simulate(5, 1.2, 7);
    expect(v.higher / SIMULATIONS).toBeGreaterThanOrEqual(0.8);
    expect(v.lower).toBe(0);
  });
});
