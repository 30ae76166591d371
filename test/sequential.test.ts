/**
 * Rounds added until decided (src/stats/sequential.ts, src/stats/t-path.ts; docs/design.md §23): the
 * angle form of Student's CDF against the t tails, boundaries against closed forms and against
 * simulation, an interval computed by hand, the verdicts' rules (frozen once reached, equivalence
 * first, the last look, lost rounds, bad input), and simulations of the whole procedure —
 * looking after every round from 3 to 10 or 20 — on normal noise and on this machine's recorded
 * A/A rounds (test/fixtures/aa-rounds.json): any false verdict in a family at most 5 % and near it
 * where equivalence is out of reach, false equivalence at the band's edge, and the power and
 * rounds used at a 10 % difference. Seeded: the numbers printed are the same on every run.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../src/determinism.js";
import { tQuantile, tUpper } from "../src/stats/distributions";
import { type SequentialOptions, sequentialFamily, sequentialMethod } from "../src/stats/sequential";
import { tAngleCdf, tBoundaries } from "../src/stats/t-path";

setDefaultTimeout(120_000);

/** A standard normal from a seeded uniform generator (Box–Muller). */
const normal = (random: () => number) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

describe("the t path's boundaries", () => {
  test("Student's CDF in the angle form equals the t tails for 1–30 degrees of freedom", () => {
    for (const df of [1, 2, 3, 4, 5, 8, 9, 19, 30]) {
      for (const t of [-3, -0.4, 0, 0.7, 2.1, 6]) expect(1 - tAngleCdf(df, Math.atan(t / Math.sqrt(df)))).toBeCloseTo(tUpper(t, df), 12);
    }
  });

  test("the first look spends γ·(k₀/K)^ρ, so its boundary is a t quantile: 8.8602 at 2 df for 0.025·(3/6)², by hand", () => {
    // At 2 df, P(T ≤ t) = ½ + t / (2√(2 + t²)): p = 1 − 0.00625 gives t² = 2q²/(1 − q²), q = 2p − 1 = 0.9875.
    const q = 0.9875;
    expect(tBoundaries(0.025, 3, 6, 2)[0]).toBeCloseTo(Math.sqrt((2 * q * q) / (1 - q * q)), 6);
    expect(Math.sqrt((2 * q * q) / (1 - q * q))).toBeCloseTo(8.8602, 4);
    for (const [gamma, first, last, rho] of [[0.025, 5, 12, 1], [0.01, 4, 20, 2], [0.05 / 6, 3, 10, 3]] as const) {
      expect(tBoundaries(gamma, first, last, rho)[0]).toBeCloseTo(tQuantile(1 - gamma * (first / last) ** rho, first - 1), 6);
    }
  });

  test("one look is the fixed-size test: its boundary is t_{1−γ}", () => {
    expect(tBoundaries(0.025, 10, 10, 2)[0]).toBeCloseTo(tQuantile(0.975, 9), 6);
    expect(tBoundaries(0.05, 5, 5, 2)[0]).toBeCloseTo(tQuantile(0.95, 4), 6);
  });

  test("every look's crossing chance is what was spent: 400,000 simulated null paths, looks 3–20, ρ = 2", () => {
    const [first, last, gamma] = [3, 20, 0.025];
    const c = tBoundaries(gamma, first, last, 2);
    // Later boundaries decrease toward the fixed-size t_{0.975} (2.093 at 19 df), a little above it.
    expect(c.at(-1)!).toBeGreaterThan(tQuantile(0.975, 19));
    expect(c.at(-1)!).toBeLessThan(2.6);
    const random = mulberry32(20);
    const paths = 400_000;
    const crossedBy = new Array<number>(last + 1).fill(0);
    for (let s = 0; s < paths; s++) {
      let [sum, squares] = [0, 0];
      for (let k = 1; k <= last; k++) {
        const x = normal(random);
        sum += x;
        squares += x * x;
        if (k < first) continue;
        const mean = sum / k;
        if (mean / Math.sqrt((squares - k * mean * mean) / (k - 1) / k) >= c[k - first]) {
          crossedBy[k]++;
          break;
        }
      }
    }
    let cumulative = 0;
    for (let k = first; k <= last; k++) {
      cumulative += crossedBy[k] / paths;
      const spent = gamma * (k / last) ** 2;
      // Four standard errors of a binomial share; the recursion's grid adds under 1 % of the spend.
      expect(Math.abs(cumulative - spent)).toBeLessThan(4 * Math.sqrt((spent * (1 - spent)) / paths) + 0.01 * spent);
    }
    console.log(`boundaries for looks 3–20 at γ = 2.5 %, ρ = 2: ${c.map((x) => x.toFixed(2)).join(" ")}; crossed by simulation ${cumulative} of 0.025`);
  });
});

describe("verdicts", () => {
  const design: SequentialOptions = { minRounds: 3, maxRounds: 6 };
  const one = (logRatios: number[], options: Partial<SequentialOptions> = {}) => sequentialFamily([{ a: "x", b: "y", logRatios }], { ...design, ...options });

  test("by hand: log ratios 0.10, 0.13, 0.07 at the first look — mean 0.1, sd 0.03, |T| = 5.77 < 8.8602: continue, interval e^(0.1 ± 8.8602·0.03/√3) = 0.94794–1.28848", () => {
    const r = one([0.1, 0.13, 0.07]);
    expect(r.done).toBe(false);
    expect(r.pairs[0]).toMatchObject({ verdict: "continue", rounds: 3, decided_at: null, level: 0.95 });
    expect(r.pairs[0].ratio).toBeCloseTo(Math.exp(0.1), 12);
    expect(r.pairs[0].interval[0]).toBeCloseTo(0.94794, 5);
    expect(r.pairs[0].interval[1]).toBeCloseTo(1.28848, 5);
  });

  test("Student's sleep data as one look: the fixed-size t-test's 95 % interval 0.7001–2.4599 (higher), and its 90 % interval inside a wide band (equivalent)", () => {
    const sleep = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4];
    const differs = one(sleep, { minRounds: 10, maxRounds: 10 }).pairs[0];
    expect(differs.verdict).toBe("higher");
    expect(Math.log(differs.interval[0])).toBeCloseTo(0.7001142, 5);
    expect(Math.log(differs.interval[1])).toBeCloseTo(2.4598858, 5);
    expect(differs.level).toBe(0.95);
    const same = one(sleep, { minRounds: 10, maxRounds: 10, equivalence: Math.exp(3) - 1 }).pairs[0];
    expect(same.verdict).toBe("equivalent");
    expect(same.level).toBeCloseTo(0.9, 12);
    const q = tQuantile(0.95, 9) * (1.2299955 / Math.sqrt(10));
    expect(Math.log(same.interval[0])).toBeCloseTo(1.58 - q, 5);
    expect(Math.log(same.interval[1])).toBeCloseTo(1.58 + q, 5);
  });

  test("a verdict is frozen at the look that reached it: later rounds, run for other pairs, do not reopen it", () => {
    const decided = one([0.1, 0.13, 0.07, 0.11]).pairs[0];
    expect(decided).toMatchObject({ verdict: "higher", rounds: 4, decided_at: 4 });
    expect(one([0.1, 0.13, 0.07, 0.11, -0.5, -0.6]).pairs[0]).toEqual(decided);
    // The same holds in a family: the rounds go on while another pair is undecided.
    const family = sequentialFamily([
      { a: "x", b: "y", logRatios: [0.1, 0.13, 0.07, 0.11, 0.1] },
      { a: "x", b: "z", logRatios: [0.3, -0.2, 0.1, -0.1, 0.2] },
    ], design);
    expect(family.pairs.map((p) => p.verdict)).toEqual(["higher", "continue"]);
    expect(family.done).toBe(false);
    expect(family.alpha_pair).toBe(0.025);
  });

  test("equivalence wins where both hold; constant ratios decide at once; the last look and a final call leave the undecided inconclusive", () => {
    // Every round ×1.01: a spread of 0 inside the band.
    expect(one([0.01, 0.01, 0.01]).pairs[0]).toMatchObject({ verdict: "equivalent", decided_at: 3, interval: [Math.exp(0.01), Math.exp(0.01)] });
    expect(one([0.2, 0.2, 0.2]).pairs[0].verdict).toBe("higher");
    const noisy = [0.3, -0.2, 0.1, -0.1, 0.2, -0.25];
    const last = one(noisy);
    expect(last.pairs[0].verdict).toBe("inconclusive");
    expect(last.done).toBe(true);
    expect(one(noisy.slice(0, 4)).pairs[0].verdict).toBe("continue");
    expect(one(noisy.slice(0, 4), { final: true })).toMatchObject({ done: true, pairs: [{ verdict: "inconclusive", rounds: 4 }] });
    // Rounds past the last look are not looked at.
    expect(one([...noisy, 0.2, 0.2]).pairs[0]).toEqual(last.pairs[0]);
    // Before the first look: continue, no interval.
    const early = one([0.1, 0.2]).pairs[0];
    expect(early.verdict).toBe("continue");
    expect(early.interval.every(Number.isNaN)).toBe(true);
    expect(early.ratio).toBeCloseTo(Math.exp(0.15), 12);
  });

  test("a pair that lost a round looks at its own count: the same boundary at the same number of ratios", () => {
    const full = sequentialFamily([{ a: "x", b: "y", logRatios: [0.1, 0.13, 0.07, 0.11] }, { a: "x", b: "z", logRatios: [0.1, 0.13, 0.07] }], design);
    expect(full.pairs[1]).toMatchObject({ verdict: "continue", rounds: 3 });
    expect(full.pairs[1].interval[1]).toBeGreaterThan(1.28848);
  });

  test("bad input says what it needs", () => {
    expect(() => one([0.1, Number.NaN, 0.2])).toThrow("a sequential look needs finite log ratios: x / y has NaN at round index 1");
    expect(() => one([0.1], { maxRounds: 2 })).toThrow("maxRounds must be a whole number of rounds from minRounds (3) to 100: got 2");
    expect(() => one([0.1], { minRounds: 1 })).toThrow("minRounds must be a whole number of rounds, 2 at least: got 1");
    expect(() => one([0.1], { alpha: 0 })).toThrow("alpha must lie strictly between 0 and 0.5: got 0");
    expect(() => one([0.1], { equivalence: 0 })).toThrow("equivalence must be a positive fraction (0.05 for ±5 %): got 0");
  });

  test("the procedure in one sentence, with the family's division", () => {
    const text = sequentialMethod({ minRounds: 3, maxRounds: 20 }, 3);
    expect(text).toContain("a look after every round from 3 to 20");
    expect(text).toContain("3 pairs, each tested at 5 %/3 = 1.67 %");
    expect(text).toContain("at most 5 %");
    expect(sequentialMethod({ minRounds: 3, maxRounds: 20 }, 1)).toContain("one pair, tested at 5 %");
  });
});

// --- Simulations ----------------------------------------------------------------------------------

const recorded = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "aa-rounds.json"), "utf8")) as { sets: { command: string; rounds: { a: number; b: number }[] }[] };
/** The recorded A/A log ratios of total CPU per request, by run length (8 rounds of 10 s, 6 of 30 s). */
const pools = Object.fromEntries(recorded.sets.map((s) => [`recorded A/A, ${s.command.match(/ (\d+s) /)![1]} runs`, s.rounds.map((r) => Math.log(r.a / r.b))]));

/** One run's noise on the log scale: a pair's log ratio is the difference of two. */
type Noise = (random: () => number) => number;
const normalNoise = (sdLog: number): Noise => (random) => (sdLog * normal(random)) / Math.SQRT2;
/** A recorded log ratio ÷ √2 with a random sign, as test/paired-simulation.test.ts draws them. */
const poolNoise = (pool: number[]): Noise => (random) => (pool[Math.floor(random() * pool.length)] * (random() < 0.5 ? -1 : 1)) / Math.SQRT2;

const SIMULATIONS = 4000;
const BAND = Math.log(1.05);

/**
 * `targets` targets, target 0 at `effect` (a log ratio) against the others, looked at after every
 * round from 3 on until the family is done or `max` rounds. Per family: any false verdict (lower
 * or higher between equal targets or the wrong way, equivalent at or beyond the band); for the
 * pair 0–1, how often it was decided the right way, called equivalent, and at which round.
 */
function simulate(noise: Noise, targets: number, effect: number, max: number, seed: number) {
  const random = mulberry32(seed);
  const pairs: [number, number][] = [];
  for (let i = 0; i < targets; i++) for (let j = i + 1; j < targets; j++) pairs.push([i, j]);
  const out = { anyFalse: 0, decided: 0, equivalent: 0, roundsPair: 0, roundsFamily: 0 };
  for (let s = 0; s < SIMULATIONS; s++) {
    const values = Array.from({ length: targets }, (_, t) => Array.from({ length: max }, () => (t === 0 ? effect : 0) + noise(random)));
    let family = sequentialFamily([], { minRounds: 3, maxRounds: max });
    let k = 3;
    for (; k <= max; k++) {
      family = sequentialFamily(pairs.map(([i, j]) => ({ a: `${i}`, b: `${j}`, logRatios: values[i].slice(0, k).map((x, r) => x - values[j][r]) })), { minRounds: 3, maxRounds: max });
      if (family.done) break;
    }
    out.roundsFamily += Math.min(k, max);
    let anyFalse = false;
    family.pairs.forEach((p, n) => {
      const [i, j] = pairs[n];
      const mu = (i === 0 ? effect : 0) - (j === 0 ? effect : 0);
      if (mu === 0 ? p.verdict === "lower" || p.verdict === "higher" : p.verdict === (mu > 0 ? "lower" : "higher")) anyFalse = true;
      if (Math.abs(mu) >= BAND - 1e-12 && p.verdict === "equivalent") anyFalse = true;
      if (n === 0) {
        if (effect !== 0 && p.verdict === (effect > 0 ? "higher" : "lower")) out.decided++;
        if (p.verdict === "equivalent") out.equivalent++;
        out.roundsPair += p.decided_at ?? max;
      }
    });
    if (anyFalse) out.anyFalse++;
  }
  return { anyFalse: out.anyFalse / SIMULATIONS, decided: out.decided / SIMULATIONS, equivalent: out.equivalent / SIMULATIONS, roundsPair: out.roundsPair / SIMULATIONS, roundsFamily: out.roundsFamily / SIMULATIONS };
}

/** 2.5 binomial standard errors above 5 %: what a seeded estimate of a rate at most 5 % can show. */
const AT_MOST_NOMINAL = 0.05 + 2.5 * Math.sqrt((0.05 * 0.95) / SIMULATIONS);

describe("simulations: looking after every round from 3 on", () => {
  test("normal noise too wide for the band (spread 1): any false verdict near 5 % for 2 and 3 targets, up to 10 and 20 rounds", () => {
    for (const targets of [2, 3]) {
      for (const max of [10, 20]) {
        const aa = simulate(normalNoise(1), targets, 0, max, 100 + 10 * targets + max);
        console.log(`normal, spread 1, ${targets} targets, looks 3–${max}: any false verdict ${aa.anyFalse}`);
        expect(aa.anyFalse).toBeLessThanOrEqual(AT_MOST_NOMINAL);
        expect(aa.anyFalse).toBeGreaterThanOrEqual(0.04);
      }
    }
  });

  test("normal noise at the recorded spreads (0.08 in 10 s runs, 0.035 in 30 s): A/A false verdicts at most 5 %, false equivalence at the band's edge at most 5 %, and a 10 % difference decided", () => {
    for (const sd of [0.08, 0.035]) {
      for (const max of [10, 20]) {
        const aa = simulate(normalNoise(sd), 2, 0, max, 200 + max);
        const aa3 = simulate(normalNoise(sd), 3, 0, max, 300 + max);
        const edge = simulate(normalNoise(sd), 2, BAND, max, 400 + max);
        const ten = simulate(normalNoise(sd), 2, Math.log(1.1), max, 500 + max);
        const ten3 = simulate(normalNoise(sd), 3, Math.log(1.1), max, 600 + max);
        console.log(`normal, spread ${sd}, looks 3–${max}: A/A any false ${aa.anyFalse} (2 targets; equivalent ${aa.equivalent} in ${aa.roundsPair.toFixed(1)} rounds), ${aa3.anyFalse} (3 targets); at the edge equivalent ${edge.equivalent}; ×1.10 decided ${ten.decided} in ${ten.roundsPair.toFixed(1)} rounds on average (2 targets), ${ten3.decided} in ${ten3.roundsPair.toFixed(1)} (3 targets, the family done in ${ten3.roundsFamily.toFixed(1)})`);
        for (const r of [aa, aa3, edge]) expect(r.anyFalse).toBeLessThanOrEqual(AT_MOST_NOMINAL);
        expect(ten.anyFalse).toBeLessThanOrEqual(AT_MOST_NOMINAL);
        expect(ten.decided).toBeGreaterThanOrEqual(sd === 0.08 && max === 10 ? 0.8 : 0.98);
      }
    }
  });

  test("at the band's edge, a pair alone at spread 0.08 up to 20 rounds: false equivalence near its nominal 5 %", () => {
    const edge = simulate(normalNoise(0.08), 2, BAND, 20, 700);
    console.log(`normal, spread 0.08, looks 3–20, ratio ×1.05: equivalent ${edge.equivalent}`);
    expect(edge.equivalent).toBeLessThanOrEqual(AT_MOST_NOMINAL);
    expect(edge.equivalent).toBeGreaterThanOrEqual(0.03);
  });

  for (const [name, pool] of Object.entries(pools)) {
    test(`${name}, resampled: A/A false verdicts and false equivalence at the edge at most 5 %; a 10 % difference decided, and in how many rounds`, () => {
      for (const max of [10, 20]) {
        const aa = simulate(poolNoise(pool), 2, 0, max, 800 + max);
        const aa3 = simulate(poolNoise(pool), 3, 0, max, 900 + max);
        const edge = simulate(poolNoise(pool), 2, BAND, max, 1000 + max);
        const ten = simulate(poolNoise(pool), 2, Math.log(1.1), max, 1100 + max);
        console.log(`${name}, looks 3–${max}: A/A any false ${aa.anyFalse} (2 targets; equivalent ${aa.equivalent} in ${aa.roundsPair.toFixed(1)} rounds), ${aa3.anyFalse} (3 targets); at the edge equivalent ${edge.equivalent}; ×1.10 decided ${ten.decided} in ${ten.roundsPair.toFixed(1)} rounds on average`);
        for (const r of [aa, aa3, edge]) expect(r.anyFalse).toBeLessThanOrEqual(AT_MOST_NOMINAL);
        expect(ten.decided).toBeGreaterThanOrEqual(0.85);
      }
    });
  }
});
