/**
 * Where two cost lines cross (src/plans/crossing.ts). Independent fits: Welch–Satterthwaite's
 * degrees of freedom for the two fits' summed variances, against a hand computation, and
 * Fieller's interval with them covering the true crossing about 95 % of the time. Paired by block
 * (a round at a rate, where both targets ran back to back): the difference line by hand, and by
 * simulation that, when the blocks share the machine's moment, the crossing's interval narrows and
 * still holds the truth about 95 % of the time (and without a shared moment, too); the same
 * through fitTarget's points, the older models without blocks, and the cheapest-target changes
 * with a price. The fits themselves: test/model.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { mulberry32 } from "../src/determinism.js";
import { cheapestChanges } from "../src/plans/cost";
import { crossover, crossovers, differenceLine, lineOf, welchDf } from "../src/plans/crossing";
import { fitLine, fitTarget, type ModelPoint } from "../src/plans/model";

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

/** A standard normal from a seeded uniform generator (Box–Muller). */
const normal = (random: () => number) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/**
 * Two targets measured in blocks (3 rounds × 4 rates, every target once per block): a at 0.5 + 0.001x
 * cores, b at 0.1 + 0.003x (they cross at 200 requests/s). Each block adds the same `shared` noise
 * to both (the machine's moment), each run its own `own` noise; each run serves a little under the
 * offered rate, a little differently for each target.
 */
function blocks(random: () => number, shared: number, own: number) {
  const [a, b]: { x: number; y: number; round: number; rate: number }[][] = [[], []];
  for (let round = 1; round <= 3; round++) {
    for (const rate of [50, 100, 200, 400]) {
      const moment = shared * normal(random);
      const [xa, xb] = [rate * (0.985 + 0.01 * random()), rate * (0.985 + 0.01 * random())];
      a.push({ x: xa, y: 0.5 + 0.001 * xa + moment + own * normal(random), round, rate });
      b.push({ x: xb, y: 0.1 + 0.003 * xb + moment + own * normal(random), round, rate });
    }
  }
  return [fitLine(a), fitLine(b)];
}

describe("paired by block", () => {
  test("by hand: with equal served rates the difference line is the least-squares line of the per-block differences", () => {
    const xs = [50, 100, 200];
    const a = fitLine(xs.flatMap((x, i) => [1, 2].map((round) => ({ x, y: 0.5 + 0.001 * x + [0.01, -0.02, 0.005][i] * round, round, rate: x }))));
    const b = fitLine(xs.flatMap((x, i) => [1, 2].map((round) => ({ x, y: 0.1 + 0.003 * x + [0.03, 0.01, -0.01][i] * round, round, rate: x }))));
    const d = differenceLine(a, b)!;
    const byHand = fitLine(xs.flatMap((x, i) => [1, 2].map((round) => ({ x, y: 0.4 - 0.002 * x + ([0.01, -0.02, 0.005][i] - [0.03, 0.01, -0.01][i]) * round }))));
    expect(d.blocks).toBe(6);
    expect(d.df).toBe(4);
    expect(d.fixed).toBeCloseTo(byHand.fixed, 12);
    expect(d.marginal).toBeCloseTo(byHand.marginal, 12);
    expect(d.var_marginal!).toBeCloseTo(byHand.var_marginal!, 15);
    // On equal served rates, least squares is linear in y: the difference of the two fits exactly.
    expect(d.fixed).toBeCloseTo(a.fixed - b.fixed, 12);
    expect(d.marginal).toBeCloseTo(a.marginal - b.marginal, 12);
    const c = crossover("a", lineOf(a), "b", lineOf(b), undefined, d);
    expect(c.paired_blocks).toBe(6);
    expect(c.at).toBeCloseTo(-d.fixed / d.marginal, 9);
    // Fewer than 3 shared blocks, one rate only, or points without their block: no difference line.
    expect(differenceLine(fitLine([a.residuals[0], a.residuals[2]]), b)).toBeNull();
    expect(differenceLine(fitLine([{ x: 50, y: 1, round: 1, rate: 50 }, { x: 51, y: 1, round: 2, rate: 50 }, { x: 52, y: 1, round: 3, rate: 50 }]), fitLine([{ x: 50, y: 1, round: 1, rate: 50 }, { x: 51, y: 2, round: 2, rate: 50 }, { x: 52, y: 1, round: 3, rate: 50 }]))).toBeNull();
    expect(differenceLine(fitLine(xs.map((x) => ({ x, y: x }))), b)).toBeNull();
  });

  test("blocks sharing the machine's moment (spread 0.05 cores, runs' own 0.01): the paired interval holds the crossing in about 95 % of 2,000 simulations and is several times narrower than the independent fits'", () => {
    const random = mulberry32(26);
    let [paired, independent] = [0, 0];
    const [widthsPaired, widthsIndependent]: number[][] = [[], []];
    const runs = 2000;
    for (let s = 0; s < runs; s++) {
      const [a, b] = blocks(random, 0.05, 0.01);
      const p = crossover("a", lineOf(a), "b", lineOf(b), undefined, differenceLine(a, b));
      const i = crossover("a", lineOf(a), "b", lineOf(b));
      expect(p.paired_blocks).toBe(12);
      if (p.ci && p.ci[0] <= 200 && 200 <= p.ci[1]) paired++;
      if (i.ci && i.ci[0] <= 200 && 200 <= i.ci[1]) independent++;
      widthsPaired.push(p.ci ? p.ci[1] - p.ci[0] : Infinity);
      widthsIndependent.push(i.ci ? i.ci[1] - i.ci[0] : Infinity);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    console.log(`shared moment 0.05, own 0.01: paired holds the crossing in ${paired / runs} (median width ${median(widthsPaired).toFixed(1)} requests/s), independent fits in ${independent / runs} (median width ${median(widthsIndependent).toFixed(1)})`);
    // Binomial(2000, 0.95): 3 standard deviations are ±1.5 %.
    expect(paired / runs).toBeGreaterThan(0.935);
    expect(paired / runs).toBeLessThan(0.965);
    expect(median(widthsPaired)).toBeLessThan(median(widthsIndependent) / 3);
    // The independent fits count the shared moment twice: wide, and over-covering.
    expect(independent / runs).toBeGreaterThan(0.97);
  });

  test("no shared moment (runs' own noise 0.02 only): the paired interval still holds the crossing in about 95 % of 2,000 simulations", () => {
    const random = mulberry32(27);
    let inside = 0;
    for (let s = 0; s < 2000; s++) {
      const [a, b] = blocks(random, 0, 0.02);
      const c = crossover("a", lineOf(a), "b", lineOf(b), undefined, differenceLine(a, b));
      if (c.ci && c.ci[0] <= 200 && 200 <= c.ci[1]) inside++;
    }
    console.log(`no shared moment: paired holds the crossing in ${inside / 2000}`);
    expect(inside / 2000).toBeGreaterThan(0.935);
    expect(inside / 2000).toBeLessThan(0.965);
  });

  test("through the model's own points: crossovers pair by block; a model whose points have no block falls back to independent fits; cheapestChanges prices the paired difference", () => {
    const random = mulberry32(28);
    const point = (target: string, round: number, rate: number, cores: number): ModelPoint => ({
      target, rate, round, file: `${target}-${round}-${rate}`, served_rate: rate, wall_seconds: 10,
      cores: { "rest-gateway": cores }, pss_bytes: { "rest-gateway": 2 ** 30 }, pss_total_bytes: 2 ** 30, sustained: true, why: null,
    });
    const points = [1, 2, 3].flatMap((round) => [50, 100, 200, 400].flatMap((rate) => {
      const moment = 0.05 * normal(random);
      return [point("a", round, rate, 0.5 + 0.001 * rate + moment + 0.01 * normal(random)), point("b", round, rate, 0.1 + 0.003 * rate + moment + 0.01 * normal(random))];
    }));
    const models = ["a", "b"].map((t) => fitTarget(t, points));
    const [c] = crossovers(models);
    expect(c.paired_blocks).toBe(12);
    expect(c.ci![0]).toBeLessThan(200);
    expect(c.ci![1]).toBeGreaterThan(200);
    expect(c.ci![1] - c.ci![0]).toBeLessThan(60);
    // Residuals without their block (a model written before): independent fits, said by paired_blocks null.
    const older = models.map((m) => ({ ...m, total: { ...m.total!, residuals: m.total!.residuals.map(({ rate: _, ...r }) => r) } }));
    expect(crossovers(older)[0].paired_blocks).toBeNull();
    // Without a price the change is the crossing itself, with its paired interval; a price on memory alone (equal memory) moves nothing.
    const [change] = cheapestChanges(models, 50, 400);
    expect(change.rate).toBeCloseTo(c.rate!, 9);
    expect(change.ci![0]).toBeCloseTo(c.ci![0], 9);
    expect(change.ci![1]).toBeCloseTo(c.ci![1], 9);
    const priced = cheapestChanges(models, 50, 400, { vcpu_hour: 0.04, gb_hour: 0.005 });
    expect(priced[0].rate).toBeCloseTo(c.rate!, 6);
    expect(priced[0].ci![0]).toBeCloseTo(c.ci![0], 6);
  });
});
