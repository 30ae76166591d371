/**
 * The verdicts of src/stats/paired.ts on this machine's own noise, by simulation: families of 2–4
 * targets, each round's values drawn from real A/A rounds recorded here (test/fixtures/aa-rounds.json,
 * aa-rounds-4s.json, aa-windows.json on Bun 1.3.14; aa-rounds-bun145.json on the Bun pinned now), kept
 * apart by metric, run length and Bun. Asserted: the family-wise rate of false
 * differences near its nominal 5 % (not only below it), false equivalence at the band's edge near
 * 5 % too, and at least 80 % power at the difference the verdicts say these rounds detect.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../src/determinism.js";
import { EQUIVALENCE, pairedFamily, pairedMeasure } from "../src/stats/paired";
import { detectable } from "../src/stats/sizing";

const fixtures = join(import.meta.dirname, "fixtures");
const rounds = JSON.parse(readFileSync(join(fixtures, "aa-rounds.json"), "utf8")) as { sets: { command: string; rounds: { a: number; b: number }[] }[] };
const windows = JSON.parse(readFileSync(join(fixtures, "aa-windows.json"), "utf8")) as { runs: { file: string; mode: string; ok_per_window: number[]; latency_p50_ms: number[] }[] };

/** Per-round log ratios of two runs of the same target, one pool per metric and run length. */
const pools: Record<string, number[]> = {};
for (const s of rounds.sets) pools[`CPU per request, ${s.command.match(/ (\d+s) /)![1]} runs`] = s.rounds.map((r) => Math.log(r.a / r.b));
// 16 A/A rounds of 4 s runs at 60 requests/s, the demo's length and about its rate (with the
// metronome beside them, whose readings the file keeps: docs/noise.md).
const short = JSON.parse(readFileSync(join(fixtures, "aa-rounds-4s.json"), "utf8")) as { command: string; rounds: { a: number; b: number }[] };
pools[`CPU per request, ${short.command.match(/ (\d+s) /)![1]} runs`] = short.rounds.map((r) => Math.log(r.a / r.b));
// 10 rounds of Case 1 three times (the calibration's rate and run length) on Bun 1.4.5, whose
// collector no longer runs on a clock (docs/noise.md): each round's three pairwise log ratios.
const bun145 = JSON.parse(readFileSync(join(fixtures, "aa-rounds-bun145.json"), "utf8")) as { command: string; rounds: { a: number; b: number; c: number }[] };
pools[`CPU per request, ${bun145.command.match(/ (\d+s) /)![1]} runs, Bun 1.4.5`] = bun145.rounds.flatMap((r) => [Math.log(r.a / r.b), Math.log(r.b / r.c), Math.log(r.c / r.a)]);
// aa-windows.json holds three A/A comparisons, two runs per round, in the order they ran.
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return (sorted[Math.floor(sorted.length / 2)] + sorted[Math.ceil(sorted.length / 2) - 1]) / 2;
};
for (const [name, from, to] of [["closed model, 20 s runs", 0, 12], ["open model, 20 s runs", 12, 24], ["closed model, 30 s runs", 24, 32]] as const) {
  const runs = windows.runs.slice(from, to);
  const ratios = (pick: (r: (typeof runs)[number]) => number) => runs.flatMap((r, i) => (i % 2 ? [] : [Math.log(pick(r) / pick(runs[i + 1]))]));
  // At a fixed offered rate the throughput is the rate: no noise to simulate.
  if (!name.startsWith("open")) pools[`throughput, ${name}`] = ratios((r) => r.ok_per_window.reduce((s, x) => s + x, 0));
  pools[`latency p50, ${name}`] = ratios((r) => median(r.latency_p50_ms));
}
/** The spread of a pair's log ratio the simulation draws: each target's noise is a recorded log ratio ÷ √2, either sign. */
const spread = (pool: number[]) => Math.sqrt(pool.reduce((s, d) => s + d * d, 0) / pool.length);

/** Per family size and scenario; seeded, so the rates below are the same on every run. */
const SIMULATIONS = 4000;
const band = Math.log(1 + EQUIVALENCE);

/**
 * `targets` targets over R rounds, target 0 at `effect` (a log ratio) against the others, every
 * run's noise a recorded log ratio ÷ √2 with a random sign. Returns per family: any false
 * difference (a pair of two equal targets with p_adjusted < 5 %), any false verdict (lower/higher
 * between equal targets, or equivalent where the effect lies on the band's edge), and whether
 * target 0 against target 1 was decided the right way.
 */
function simulate(pool: number[], targets: number, R: number, effect: number, seed: number) {
  const random = mulberry32(seed);
  const out = { falseDifference: 0, falseVerdict: 0, decided: 0, equivalent01: 0 };
  for (let s = 0; s < SIMULATIONS; s++) {
    const values = Array.from({ length: targets }, (_, t) => Array.from({ length: R }, () => Math.exp((t === 0 ? effect : 0) + (pool[Math.floor(random() * pool.length)] * (random() < 0.5 ? -1 : 1)) / Math.SQRT2)));
    const pairs: [number, number][] = [];
    for (let i = 0; i < targets; i++) for (let j = i + 1; j < targets; j++) pairs.push([i, j]);
    const family = pairedFamily(pairs.map(([i, j]) => pairedMeasure({ rounds: values[i].map((a, r) => ({ round: r + 1, a, b: values[j][r] })) })), { sizing: false });
    let falseDifference = false;
    let falseVerdict = false;
    family.forEach((x, k) => {
      const [i, j] = pairs[k];
      const equal = effect === 0 || (i !== 0 && j !== 0);
      if (equal && x.p_adjusted < 0.05) falseDifference = true;
      if (equal && (x.verdict === "lower" || x.verdict === "higher")) falseVerdict = true;
      if (!equal && Math.abs(effect) >= band && x.verdict === "equivalent") falseVerdict = true;
      if (i === 0 && j === 1) {
        if (x.verdict === (effect > 0 ? "higher" : "lower")) out.decided++;
        if (x.verdict === "equivalent") out.equivalent01++;
      }
    });
    if (falseDifference) out.falseDifference++;
    if (falseVerdict) out.falseVerdict++;
  }
  return { falseDifference: out.falseDifference / SIMULATIONS, falseVerdict: out.falseVerdict / SIMULATIONS, decided: out.decided / SIMULATIONS, equivalent01: out.equivalent01 / SIMULATIONS };
}

describe("simulations on recorded noise", () => {
  test("the pools are real rounds of this machine, split by metric and run length", () => {
    expect(Object.keys(pools)).toEqual([
      "CPU per request, 10s runs", "CPU per request, 30s runs", "CPU per request, 4s runs", "CPU per request, 8s runs, Bun 1.4.5",
      "throughput, closed model, 20 s runs", "latency p50, closed model, 20 s runs", "latency p50, open model, 20 s runs",
      "throughput, closed model, 30 s runs", "latency p50, closed model, 30 s runs",
    ]);
    for (const pool of Object.values(pools)) expect(pool.length).toBeGreaterThanOrEqual(4);
  });

  const powers: number[] = [];
  for (const [name, pool] of Object.entries(pools)) {
    for (const targets of [2, 3, 4]) {
      test(`${name}, ${targets} targets, R = 5: false differences near 5 % over the family, 80 % power at the difference said to be detectable`, () => {
        const m = (targets * (targets - 1)) / 2;
        const aa = simulate(pool, targets, 5, 0, 1000 + targets);
        const d = detectable(spread(pool), 5, m)!;
        const power = simulate(pool, targets, 5, Math.log(1 + d), 2000 + targets);
        const edge = simulate(pool, targets, 5, band, 3000 + targets);
        console.log(`${name}, ${targets} targets: A/A any false difference ${aa.falseDifference}, any false verdict ${aa.falseVerdict}; ±${(d * 100).toFixed(1)} % decided in ${power.decided}; at the band's edge equivalent in ${edge.equivalent01}, any false verdict ${edge.falseVerdict}`);
        // The family-wise rate of false differences is what the step-down holds at 5 %. The 30 s
        // pools have 4 rounds, one of them 7× the others' (532 against 336 requests/s within one
        // round): Student's t is conservative on such a tail, so there only the bound is asserted.
        expect(aa.falseDifference).toBeLessThanOrEqual(0.065);
        if (pool.length >= 6) expect(aa.falseDifference).toBeGreaterThanOrEqual(0.03);
        // A reported lower/higher between equal targets is rarer still (equivalence wins where both hold).
        expect(aa.falseVerdict).toBeLessThanOrEqual(aa.falseDifference);
        expect(edge.falseVerdict).toBeLessThanOrEqual(0.065);
        // The sizing solves for 83 % under normal log ratios (PLANNED_POWER, exact: test/sizing.test.ts),
        // so that this heavier-tailed noise still gets the 80 % the report states (81-84 % here).
        expect(power.decided).toBeGreaterThanOrEqual(0.8);
        powers.push(power.decided);
      });
    }
  }

  test("over every pool and family size the power at the stated difference is 80 % or more, and not far above it (the sizing is not needlessly wide)", () => {
    expect(powers).toHaveLength(27);
    expect(Math.min(...powers)).toBeGreaterThanOrEqual(0.8);
    expect(powers.reduce((s, p) => s + p, 0) / powers.length).toBeLessThanOrEqual(0.86);
  });

  test("at the band's edge, with the low-noise pool (CPU per request, 30 s runs), false equivalence is near its nominal 5 %", () => {
    // A ratio of exactly ×1.05 is not equivalent; TOST claims it at most 5 % of the time, and
    // nearly that where the noise is small against the band (elsewhere it is conservative).
    const edge = simulate(pools["CPU per request, 30s runs"], 2, 5, band, 4000);
    expect(edge.equivalent01).toBeGreaterThanOrEqual(0.03);
    expect(edge.equivalent01).toBeLessThanOrEqual(0.065);
    const eight = simulate(pools["CPU per request, 30s runs"], 2, 8, band, 4001);
    console.log(`at the band's edge, 2 targets: equivalent in ${edge.equivalent01} at R = 5, ${eight.equivalent01} at R = 8`);
    expect(eight.equivalent01).toBeGreaterThanOrEqual(0.03);
    expect(eight.equivalent01).toBeLessThanOrEqual(0.065);
  });

  test("A/A at R = 4 and 8 as well: the family's false differences stay near 5 %", () => {
    for (const R of [4, 8]) {
      const aa = simulate(pools["CPU per request, 10s runs"], 3, R, 0, 5000 + R);
      console.log(`CPU per request, 10 s runs, 3 targets, R = ${R}: any false difference ${aa.falseDifference}`);
      expect(aa.falseDifference).toBeGreaterThanOrEqual(0.025);
      expect(aa.falseDifference).toBeLessThanOrEqual(0.065);
    }
  });
});

describe("the calibration's family on Bun 1.4.5's noise", () => {
  test("an injected column at ×2 beside two identical ones: the identical pair is falsely decided in at most the 1.7 % its line states, and near it", () => {
    // `just calibrate` (src/plans/calibration.ts): the two injected pairs are decided first, and the
    // step-down still divides α by 3 for the A/A pair, as at most 3 of the 6 hypotheses can be true.
    const pool = pools["CPU per request, 8s runs, Bun 1.4.5"];
    const rates = [5, 8, 10].map((R) => simulate(pool, 3, R, Math.log(2), 6000 + R));
    console.log(`calibration's family on Bun 1.4.5's noise, R = 5, 8, 10: the A/A pair falsely decided in ${rates.map((r) => r.falseDifference).join(", ")}; the injected pair decided in ${rates.map((r) => r.decided).join(", ")}`);
    for (const r of rates) {
      expect(r.decided).toBe(1);
      expect(r.falseDifference).toBeLessThanOrEqual(0.05 / 3 + 0.004);
      expect(r.falseDifference).toBeGreaterThanOrEqual(0.008);
    }
  });
});
