/**
 * The paired statistics of docs/design.md §18 and §23 (src/stats/paired.ts, src/stats/sizing.ts): Student's
 * t and its quantiles against published values, a textbook paired example, two one-sided tests
 * computed by hand, forced answers (constant ratios), the review's repros of issue 26, the
 * family's step-down and intervals, and the sizing checked by simulation on normal noise. The
 * power itself is checked in test/sizing.test.ts; the verdicts on this machine's recorded noise
 * are simulated in test/paired-simulation.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { mulberry32 } from "../src/determinism.js";
import { incompleteBeta, tQuantile, tTwoSided } from "../src/stats/distributions";
import { holm, type PairedComparison, pairedFamily, pairedMeasure, pairedRatio, pairedT, signFlipP, stepDown, tostP } from "../src/stats/paired";
import { detectable, differencePower, PLANNED_POWER, roundsToDifference, roundsToEquivalence } from "../src/stats/sizing";

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
    expect(same).toMatchObject({ ratio: 1, ci: [1, 1], verdict_ci: [1, 1], verdict: "equivalent", rounds_to_difference: null, rounds_to_equivalence: null });
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

/** Five log ratios with exactly this mean and sample standard deviation. */
const fiveWith = (mean: number, sd: number) => [-2, -1, 0, 1, 2].map((z) => mean + (z * sd) / Math.sqrt(10 / 4));
const roundsOf = (logs: number[]) => ({ rounds: logs.map((d, i) => ({ round: i + 1, a: Math.exp(d), b: 1 })) });
const swapped = (logs: number[]) => ({ rounds: logs.map((d, i) => ({ round: i + 1, a: 1, b: Math.exp(d) })) });

describe("two one-sided tests on a symmetric band", () => {
  test("by hand: log ratios 0.01, 0.03, −0.01, 0.02, 0 are equivalent within ±5 %: p = P(T₄ ≥ 5.4858), 90 % interval −0.0051–0.0251", () => {
    // mean 0.01, sd √(0.001/4) = 0.0158114, se 0.00707107; the band ±ln 1.05 = ±0.0487902.
    // t against the upper bound (0.0487902 − 0.01)/se = 5.48584, against the lower (0.01 + 0.0487902)/se = 8.31427;
    // the larger p is the upper one's. Student's t at 4 df in closed form: F(t) = ½ + ¾·u·(1 − u²/3), u = t/√(4 + t²).
    const logs = [0.01, 0.03, -0.01, 0.02, 0];
    const t = (0.0487902 - 0.01) / 0.00707107;
    const u = t / Math.sqrt(4 + t * t);
    expect(tostP(0.01, Math.sqrt(0.001 / 4), 5, Math.log(1.05))).toBeCloseTo(1 - (0.5 + 0.75 * u * (1 - (u * u) / 3)), 6);
    const r = pairedRatio(roundsOf(logs));
    expect(r.verdict).toBe("equivalent");
    expect(r.verdict_level).toBeCloseTo(0.9, 12);
    // The 90 % interval: 0.01 ± t_{0.95, 4}·se = 0.01 ± 2.131847·0.00707107.
    expect(Math.log(r.verdict_ci![0])).toBeCloseTo(0.01 - 2.131847 * 0.00707107, 5);
    expect(Math.log(r.verdict_ci![1])).toBeCloseTo(0.01 + 2.131847 * 0.00707107, 5);
    // Its own 95 % interval is kept beside it.
    expect(Math.log(r.ci[1])).toBeCloseTo(0.01 + 2.776445 * 0.00707107, 5);
  });

  test("issue 26: a/b with 95 % interval 0.951–0.999 and the same rounds as b/a (1.001–1.052) get the same verdict", () => {
    // Before, the band was [0.95, 1.05] on the ratio: a/b was `equivalent` and b/a `higher`.
    const center = (Math.log(0.951) + Math.log(0.999)) / 2;
    const sd = ((Math.log(0.999) - Math.log(0.951)) / 2 / 2.776445) * Math.sqrt(5);
    const logs = fiveWith(center, sd);
    const ab = pairedRatio(roundsOf(logs));
    expect(ab.ci[0]).toBeCloseTo(0.951, 3);
    expect(ab.ci[1]).toBeCloseTo(0.999, 3);
    const ba = pairedRatio(swapped(logs));
    expect(ba.ci[0]).toBeCloseTo(1.001, 3);
    expect(ba.ci[1]).toBeCloseTo(1.0515, 3);
    expect([ab.verdict, ba.verdict]).toEqual(["equivalent", "equivalent"]);
    expect(ba.verdict_ci![0]).toBeCloseTo(1 / ab.verdict_ci![1], 12);
    expect(ba.p_equivalence).toBeCloseTo(ab.p_equivalence!, 12);
    // A ratio just past the band is past it both ways.
    const beyond = fiveWith(Math.log(1.06), 0.001);
    expect([pairedRatio(roundsOf(beyond)).verdict, pairedRatio(swapped(beyond)).verdict]).toEqual(["higher", "lower"]);
  });

  test("the margin is the one given: within ±5 % equivalent, within ±0.5 % not", () => {
    const logs = [0.01, -0.01, 0.015, -0.005, 0.0];
    expect(pairedRatio(roundsOf(logs)).verdict).toBe("equivalent");
    expect(pairedRatio(roundsOf(logs), { equivalence: 0.005 }).verdict).toBe("inconclusive");
  });
});

describe("what an undecided pair would take, at 80 % power", () => {
  test("issue 26: ratio 1.005, spread 0.05, R = 5 asks for rounds to show equivalence (about 12), not 387 to prove a difference", () => {
    const r = pairedRatio(roundsOf(fiveWith(Math.log(1.005), 0.05)));
    expect(r.verdict).toBe("inconclusive");
    expect(r.sd_log).toBeCloseTo(0.05, 12);
    expect(r.rounds_to_difference).toBeNull();
    expect(r.rounds_to_equivalence).toBe(roundsToEquivalence(Math.log(1.005), 0.05, Math.log(1.05))!);
    expect(r.rounds_to_equivalence).toBeGreaterThanOrEqual(8);
    expect(r.rounds_to_equivalence).toBeLessThanOrEqual(14);
    // The same mean and spread over 8 rounds is already equivalent: 12 is what the planned power asks, not a minimum.
    const eight = [...fiveWith(Math.log(1.005), 0.05), Math.log(1.005), Math.log(1.005) + 0.0612, Math.log(1.005) - 0.0612];
    const r8 = pairedRatio(roundsOf(eight));
    expect(r8.sd_log!).toBeLessThan(0.052);
    expect(r8.verdict).toBe("equivalent");
  });

  test("outside the band it asks for rounds to decide the difference, and the power there is the planned 83 % (80 % on this machine's noise) and not one round earlier", () => {
    const r = pairedRatio(roundsOf([0.12, -0.03, 0.15, 0.04]));
    expect(r.verdict).toBe("inconclusive");
    expect(r.rounds_to_equivalence).toBeNull();
    const need = r.rounds_to_difference!;
    const [mean, sd] = [Math.log(r.ratio), r.sd_log!];
    expect(need).toBe(roundsToDifference(mean, sd)!);
    expect(differencePower(mean, sd, need, 0.05)).toBeGreaterThanOrEqual(PLANNED_POWER);
    expect(differencePower(mean, sd, need - 1, 0.05)).toBeLessThan(PLANNED_POWER);
    // With three targets (three pairs) each difference is sized at 0.05 / 3.
    expect(roundsToDifference(mean, sd, 3)!).toBeGreaterThan(need);
    expect(differencePower(mean, sd, roundsToDifference(mean, sd, 3)!, 0.05 / 3)).toBeGreaterThanOrEqual(PLANNED_POWER);
  });

  test("on normal noise, a true difference of the detectable size is decided in 83 % of 10,000 comparisons (the planned power), and equivalence at the rounds it needs in at least that", () => {
    const random = mulberry32(26);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const N = 10_000;
    const sd = 0.05;
    const effect = Math.log(1 + detectable(sd, 5)!);
    let decided = 0;
    const decide = (logs: number[], equivalence = 0.05) => pairedFamily([pairedMeasure(roundsOf(logs), { equivalence })], { equivalence, sizing: false })[0].verdict;
    // A band too narrow to matter: only the difference is tested.
    for (let s = 0; s < N; s++) if (decide(Array.from({ length: 5 }, () => effect + sd * gauss()), 1e-6) === "higher") decided++;
    expect(Math.abs(decided / N - PLANNED_POWER)).toBeLessThan(0.015);
    const mean = Math.log(1.01);
    const need = roundsToEquivalence(mean, sd, Math.log(1.05))!;
    let equivalent = 0;
    for (let s = 0; s < N; s++) if (decide(Array.from({ length: need }, () => mean + sd * gauss())) === "equivalent") equivalent++;
    expect(equivalent / N).toBeGreaterThanOrEqual(PLANNED_POWER - 0.015);
    expect(equivalent / N).toBeLessThan(0.92);
  });
});

describe("a metric's pairs as one family", () => {
  test("the step-down by hand: Holm's divisors, and Shaffer's when at most 2 of 4 hypotheses can be true", () => {
    expect(stepDown([0.01, 0.04, 0.03], 3).map((h) => h.adjusted)).toEqual([0.03, 0.06, 0.06]);
    // Sorted 0.001, 0.02, 0.03, 0.2 with divisors min(2, 4), min(2, 3), min(2, 2), min(2, 1).
    const steps = stepDown([0.03, 0.001, 0.2, 0.02], 2);
    expect(steps.map((h) => h.rejected)).toEqual([false, true, false, true]);
    expect(steps.map((h) => h.adjusted)).toEqual([0.06, 0.002, 0.2, 0.04]);
    // Rejected at their own step's divisor; the rest at the step where the procedure stopped.
    expect(steps.map((h) => h.divisor)).toEqual([2, 2, 2, 2]);
    expect(stepDown([0.001, 0.002, 0.003, 0.2], 2).map((h) => h.divisor)).toEqual([2, 2, 2, 1]);
  });

  test("every interval shown beside a verdict agrees with it, in 3,000 random families of 2–5 targets", () => {
    const random = mulberry32(3);
    const band = Math.log(1.05);
    let seen = { lower: 0, higher: 0, equivalent: 0, inconclusive: 0 };
    for (let f = 0; f < 3000; f++) {
      const targets = 2 + Math.floor(random() * 4);
      const R = 2 + Math.floor(random() * 7);
      const noise = 0.005 + random() * 0.1;
      const effects = Array.from({ length: targets }, () => (random() < 0.5 ? 0 : (random() - 0.5) * 0.3));
      const values = effects.map((e) => Array.from({ length: R }, () => Math.exp(e + noise * (random() - 0.5) * 3.4)));
      const pairs: PairedComparison[] = [];
      for (let i = 0; i < targets; i++) for (let j = i + 1; j < targets; j++) pairs.push(pairedMeasure({ rounds: values[i].map((a, r) => ({ round: r + 1, a, b: values[j][r] })) }));
      for (const x of pairedFamily(pairs, { sizing: false })) {
        const [lo, hi] = x.verdict_ci!.map(Math.log);
        seen[x.verdict]++;
        if (x.verdict === "lower") expect(hi).toBeLessThan(0);
        if (x.verdict === "higher") expect(lo).toBeGreaterThan(0);
        if (x.verdict === "equivalent") expect(Math.max(-lo, hi)).toBeLessThan(band);
        if (x.verdict === "inconclusive") {
          // Never an interval excluding 1 beside "inconclusive", nor one inside the band.
          expect(lo).toBeLessThanOrEqual(1e-12);
          expect(hi).toBeGreaterThanOrEqual(-1e-12);
          expect(Math.max(-lo, hi)).toBeGreaterThanOrEqual(band - 1e-12);
        }
        expect(x.verdict_level!).toBeGreaterThanOrEqual(0.9 - 1e-12);
      }
    }
    for (const v of Object.values(seen)) expect(v).toBeGreaterThan(100);
  });
});
