/**
 * The cost model (docs/design.md §20): the least-squares fit against synthetic runs with known fixed and
 * marginal parts (recovered within their intervals, and the intervals' coverage by simulation),
 * crossings of known lines, the cost arithmetic, a rate not sustained left out, bad input.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../src/determinism.js";
import { openPage } from "./browser";
import { decide } from "../src/plans/decision";
import { type CellDoc, cellFile, type GridDoc, type GridParams, readCells, runGrid } from "../src/plans/grid";
import { measureModel, writeModel } from "../src/plans/model-run";
import { parseSlo } from "../src/plans/capacity";
import { writeMapReport } from "../src/report/map-report";
import { writeModelReport } from "../src/report/model-report";
import { config, fleetCli, quiet } from "./utils";
import { checkRates, fitLine, fitTarget, type ModelPoint, modelPoint, parseRates } from "../src/plans/model";
import { crossover, lineOf, valueAt } from "../src/plans/crossing";
import { analyseModel, cheapestChanges, type ModelDoc, costAt, GIB, parsePrice, perMillion, rankAt } from "../src/plans/cost";

setDefaultTimeout(300_000);
import type { RunResult } from "../src/run/results";

/** A standard normal from a seeded uniform generator (Box–Muller). */
const normal = (random: () => number) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/** The processes of a synthetic target: cores = fixed + marginal × rate (+ noise), per process. */
type Truth = Record<string, { fixed: number; marginal: number }>;

/** A run at `rate` over `wall` seconds of a target whose processes follow `truth`, with noise of `sd` cores per process. */
function run(truth: Truth, rate: number, random: () => number, { sd = 0.004, wall = 10, flags = [] as string[], pss = 300 * 2 ** 20 } = {}): RunResult {
  const requests = rate * wall;
  return {
    schema_version: 1, run_id: `r${rate}`, case: "case2", gateway: "yoga-gateway", mode: "rate",
    params: { vus: 10, duration: `${wall}s`, iterations: null, rate, fleet_size: 15, mix: {} },
    started_at: "", finished_at: "", status: "complete",
    summary: { requests, rps: rate, ok_rps: rate, error_rate: 0, dropped_iterations: flags.includes("sut_overloaded") ? 40 : 0, latency_ms: { p50: 5, p90: 8, p95: 9, p99: 12, max: 20 } },
    calls_per_request: {},
    resources: Object.fromEntries(Object.entries(truth).map(([p, t]) => [p, {
      cpu_seconds: (t.fixed + t.marginal * rate + sd * normal(random)) * wall, peak_rss_bytes: pss, peak_pss_bytes: pss / 4, cpu_ms_per_request: null,
    }])),
    flags, fingerprint: {}, extra: { wall_seconds: wall, memory: { peak_total_bytes: pss + rate * 1000 } },
  };
}

// Close to what the issue measured on Case 2 (ms/s of CPU fixed, ms per request marginal).
const CASE2: Truth = {
  "robot-service": { fixed: 0.126, marginal: 0.0003 },
  "telemetry-service": { fixed: 0.1, marginal: 0.0002 },
  "alert-service": { fixed: 0.09, marginal: 0.0002 },
  "yoga-gateway": { fixed: 0.191, marginal: 0.00136 },
  postgres: { fixed: 0.028, marginal: 0.00052 },
  k6: { fixed: 0.084, marginal: 0.00089 },
};

function points(target: string, truth: Truth, rates: number[], rounds: number, seed: number, options: Parameters<typeof run>[3] = {}): ModelPoint[] {
  const random = mulberry32(seed);
  return rates.flatMap((rate) => Array.from({ length: rounds }, (_, i) => modelPoint(target, i + 1, `${target}-${rate}-${i}.json`, run(truth, rate, random, options))));
}

describe("the fit", () => {
  test("recovers known fixed and marginal parts within their 95 % intervals, per process, per component and in total", () => {
    const model = fitTarget("case2", points("case2", CASE2, [25, 50, 100, 200], 3, 7));
    const within = (ci: [number, number] | null, x: number) => ci !== null && ci[0] <= x && x <= ci[1];
    // Twelve 95 % intervals miss 0.6 of their truths on average: at most 2 may (P(3 or more) ≈ 2 %);
    // every estimate is within 4 of its standard errors (the interval's half-width ÷ t).
    let missed = 0;
    for (const [p, t] of Object.entries(CASE2)) {
      const fit = model.processes_fit[p];
      expect(fit.n).toBe(12);
      expect(fit.df).toBe(10);
      missed += Number(!within(fit.fixed_ci, t.fixed)) + Number(!within(fit.marginal_ci, t.marginal));
      expect(Math.abs(fit.marginal - t.marginal)).toBeLessThan(4 * Math.sqrt(fit.var_marginal!));
      expect(Math.abs(fit.fixed - t.fixed)).toBeLessThan(4 * Math.sqrt(fit.var_fixed!));
      expect(fit.residuals).toHaveLength(12);
    }
    expect(missed).toBeLessThanOrEqual(2);
    // The total leaves the load generator (k6 here) out; data services are one component.
    const total = Object.entries(CASE2).filter(([p]) => p !== "k6").reduce((s, [, t]) => ({ fixed: s.fixed + t.fixed, marginal: s.marginal + t.marginal }), { fixed: 0, marginal: 0 });
    expect(within(model.total!.fixed_ci, total.fixed)).toBe(true);
    expect(within(model.total!.marginal_ci, total.marginal)).toBe(true);
    expect(model.total!.r2!).toBeGreaterThan(0.99);
    const data = model.components["data services"];
    expect(within(data.marginal_ci, 0.0007)).toBe(true);
    expect(Object.keys(model.components).sort()).toEqual(["data services", "gateway", "load generator", "postgres"]);
    expect(model.pss.map((p) => p.rate)).toEqual([25, 50, 100, 200]);
    expect(model.pss[0].total_bytes).toBe(300 * 2 ** 20 + 25_000);
  });

  test("the intervals cover the true coefficients in about 95 % of 1,000 simulated models", () => {
    const truth = { gateway: { fixed: 0.2, marginal: 0.0015 } };
    let fixedIn = 0;
    let marginalIn = 0;
    const runs = 1000;
    for (let s = 0; s < runs; s++) {
      const fit = fitTarget("t", points("t", truth, [25, 100], 2, 1000 + s, { sd: 0.02 })).processes_fit.gateway;
      if (fit.fixed_ci![0] <= 0.2 && 0.2 <= fit.fixed_ci![1]) fixedIn++;
      if (fit.marginal_ci![0] <= 0.0015 && 0.0015 <= fit.marginal_ci![1]) marginalIn++;
    }
    // Binomial(1000, 0.95): 2.5 standard deviations are ±1.7 %.
    for (const share of [fixedIn / runs, marginalIn / runs]) {
      expect(share).toBeGreaterThan(0.93);
      expect(share).toBeLessThan(0.97);
    }
  });

  test("exact points give the line itself; two points a line without intervals; one rate no line", () => {
    const exact = fitLine([{ x: 10, y: 1.1 }, { x: 20, y: 1.2 }, { x: 40, y: 1.4 }]);
    expect(exact.fixed).toBeCloseTo(1, 12);
    expect(exact.marginal).toBeCloseTo(0.01, 12);
    expect(exact.r2).toBeCloseTo(1, 12);
    expect(exact.fixed_ci![1] - exact.fixed_ci![0]).toBeLessThan(1e-9);
    const two = fitLine([{ x: 10, y: 1 }, { x: 20, y: 2 }]);
    expect([two.fixed, two.marginal, two.fixed_ci, two.df]).toEqual([0, 0.1, null, 0]);
    expect(() => fitLine([{ x: 10, y: 1 }, { x: 10, y: 2 }])).toThrow("a line needs points at two rates at least");
    expect(() => fitLine([{ x: 10, y: Number.NaN }, { x: 20, y: 2 }])).toThrow("fitLine needs finite points");
  });

  test("a rate a target cannot sustain is recorded and left out of its fit", () => {
    const good = points("case1", CASE2, [25, 50, 100], 2, 3);
    const overloaded = points("case1", CASE2, [400], 2, 4, { flags: ["sut_overloaded"] });
    const model = fitTarget("case1", [...good, ...overloaded]);
    expect(model.sustained_rates).toEqual([25, 50, 100]);
    expect(model.not_sustained.map((n) => n.rate)).toEqual([400, 400]);
    expect(model.not_sustained[0].why).toBe("not sustained at this rate (sut_overloaded: 40 iterations dropped)");
    expect(model.total!.n).toBe(6);
    expect(model.total!.range[1]).toBe(100);
    // Sustained at one rate only: points, no line, and why.
    const alone = fitTarget("case1", [...points("case1", CASE2, [25], 2, 5), ...overloaded]);
    expect(alone.total).toBeNull();
    expect(alone.no_fit).toBe("sustained at 25 requests/s only: a line needs two rates at least");
    const { notes } = analyseModel([...good, ...overloaded], ["case1"], { rates: [25, 50, 100, 400], duration: "10s", warmup: "2s", repeat: 2, api: null, fleet_size: 15, hop_latency_ms: null, at: null, price: null });
    expect(notes[0]).toBe("case1 · rest-gateway did not sustain 400 requests/s in 2 run(s): recorded, left out of its fit.".replace("case1 · rest-gateway", "case1"));
  });
});

describe("crossings", () => {
  const line = (fixed: number, marginal: number, rates = [50, 100, 200, 400]) => fitLine(rates.map((x) => ({ x, y: fixed + marginal * x })));

  test("two known lines cross where they should, with a point interval when exact; below it the one with the smaller fixed part is cheaper", () => {
    // a: 0.5 + 0.001x (large fixed, small marginal), b: 0.1 + 0.003x: equal at 200.
    const c = crossover("a", lineOf(line(0.5, 0.001)), "b", lineOf(line(0.1, 0.003)));
    expect(c.rate).toBeCloseTo(200, 9);
    expect(c.ci![0]).toBeCloseTo(200, 3);
    expect(c.ci![1]).toBeCloseTo(200, 3);
    expect(c.below).toBe("b");
    expect(cheapestChanges([
      { ...fitTarget("x", []), target: "a", total: line(0.5, 0.001) },
      { ...fitTarget("x", []), target: "b", total: line(0.1, 0.003) },
    ], 50, 400)).toEqual([{ rate: expect.closeTo(200, 6), from: "b", to: "a", ci: expect.any(Array) }]);
  });

  test("parallel lines do not cross; lines crossing outside the measured range give no rate, and say where", () => {
    const parallel = crossover("a", lineOf(line(0.5, 0.002)), "b", lineOf(line(0.1, 0.002)));
    expect(parallel.rate).toBeNull();
    expect(parallel.why).toBe("the lines are parallel (equal marginal cost)");
    expect(parallel.below).toBe("b");
    const outside = crossover("a", lineOf(line(0.5, 0.001)), "b", lineOf(line(0.1, 0.003)), undefined);
    expect(outside.rate).not.toBeNull();
    const far = crossover("a", lineOf(line(0.5, 0.001, [25, 50, 100])), "b", lineOf(line(0.1, 0.003, [25, 50, 100])));
    expect(far.rate).toBeNull();
    expect(far.at).toBeCloseTo(200, 9);
    expect(far.why).toStartWith("the lines cross at 200 requests/s, outside the range both were measured over (25–100)");
  });

  test("with noise, Fieller's interval holds the true crossing in about 95 % of 1,000 simulations; with slopes not told apart it is unbounded and says so", () => {
    const random = mulberry32(11);
    const noisy = (fixed: number, marginal: number, sd: number) => fitLine([50, 100, 200, 400].flatMap((x) => [1, 2, 3].map(() => ({ x, y: fixed + marginal * x + sd * normal(random) }))));
    let inside = 0;
    for (let s = 0; s < 1000; s++) {
      const c = crossover("a", lineOf(noisy(0.5, 0.001, 0.02)), "b", lineOf(noisy(0.1, 0.003, 0.02)));
      if (c.ci![0] <= 200 && 200 <= c.ci![1]) inside++;
    }
    // t with Welch–Satterthwaite's df for the two fits (about 20 here; test/crossover.test.ts).
    expect(inside / 1000).toBeGreaterThan(0.93);
    expect(inside / 1000).toBeLessThan(0.985);
    const vague = crossover("a", lineOf(noisy(0.5, 0.002, 0.2)), "b", lineOf(noisy(0.1, 0.0021, 0.2)));
    expect(vague.ci).toBeNull();
    expect(vague.why).toContain("not significant");
  });
});

describe("cost", () => {
  const target = (name: string, fixed: number, marginal: number, pss = 512 * 2 ** 20) => ({
    ...fitTarget(name, []), target: name,
    total: fitLine([50, 100, 200].map((x) => ({ x, y: fixed + marginal * x }))),
    pss: [50, 100, 200].map((rate) => ({ rate, n: 2, total_bytes: pss, by_process: {} })),
  });

  test("cores, CPU-hours and GB-hours per million requests, and money with a price", () => {
    const cost = costAt(target("a", 0.2, 0.002), 100, parsePrice("vcpu-hour=0.04,gb-hour=0.005"))!;
    expect(cost.cores).toBeCloseTo(0.4, 12);
    // 1e6 requests at 100/s take 10,000 s = 2.777… h.
    expect(perMillion(1, 100)).toBeCloseTo(10000 / 3600, 12);
    expect(cost.cpu_hours_per_million).toBeCloseTo(0.4 * 10000 / 3600, 12);
    expect(cost.memory_gb).toBe(0.5);
    expect(cost.gb_hours_per_million).toBeCloseTo(0.5 * 10000 / 3600, 12);
    expect(cost.money_per_million).toBeCloseTo(0.04 * 1.1111111 + 0.005 * 1.3888889, 6);
    expect(cost.extrapolated).toBe(false);
    expect(costAt(target("a", 0.2, 0.002), 400)!.extrapolated).toBe(true);
    expect(valueAt(lineOf(target("a", 0.2, 0.002).total), 0).value).toBeCloseTo(0.2, 12);
  });

  test("the ranking: by CPU-hours without a price (and says so), by money with one; ratio to the runner-up; tie when the interval includes 1", () => {
    const [a, b] = [target("a", 0.2, 0.002), target("b", 0.5, 0.001, 4 * GIB)];
    const cpu = rankAt([a, b], 100);
    expect(cpu.by).toBe("cpu-hours");
    expect(cpu.basis).toContain("no price given: ranked by CPU-hours alone");
    expect(cpu.costs.map((c) => c.target)).toEqual(["a", "b"]);
    expect(cpu.ratio).toBeCloseTo(0.4 / 0.6, 12);
    expect(cpu.verdict).toBe("decided");
    // With memory priced, b's 4 GiB make it dearer still; a price on memory alone ranks by memory.
    expect(rankAt([a, b], 400, parsePrice("gb-hour=1")).costs[0].target).toBe("a");
    // Noisy, nearly equal lines: a tie.
    const random = mulberry32(3);
    const noisy = (name: string) => ({ ...target(name, 0, 0), total: fitLine([50, 100, 200].flatMap((x) => [1, 2].map(() => ({ x, y: 0.3 + 0.002 * x + 0.05 * normal(random) })))) });
    const tie = rankAt([noisy("c"), noisy("d")], 100);
    expect(tie.verdict).toBe("tie");
    expect(tie.ratio_ci![1]).toBeGreaterThanOrEqual(1);
    expect(rankAt([a], 100).verdict).toBe("alone");
  });
});

describe("bad input", () => {
  test("prices and rates", () => {
    expect(parsePrice("vcpu-hour=0.04")).toEqual({ vcpu_hour: 0.04, gb_hour: 0 });
    for (const bad of ["vcpu-hour=abc", "vcpu-hour=", "cpu=1", "vcpu-hour=1,vcpu-hour=2", "vcpu-hour=-1", "vcpu-hour=0", ""]) {
      expect(() => parsePrice(bad)).toThrow("--price takes vcpu-hour=P and/or gb-hour=Q");
    }
    expect(() => checkRates([10])).toThrow("--rates takes two rates at least");
    expect(() => checkRates([10, 10])).toThrow("--rates names a rate twice");
    expect(checkRates([100, 25])).toEqual([25, 100]);
    expect(() => parseRates("10,-5")).toThrow('--rates takes offered rates in requests/s, positive integers separated by commas (e.g. 25,50,100,200), got "10,-5"');
  });

  test("the command line: one line and exit 2 for --rates 10,-5, --price vcpu-hour=abc, --at 0 (before anything starts)", () => {
    for (const [args, said] of [
      [["model", "--rates", "10,-5"], "--rates takes offered rates"],
      [["model", "--price", "vcpu-hour=abc"], "--price takes vcpu-hour=P"],
      [["model", "--at", "0"], '--at must be a positive integer, got "0"'],
      [["grid", "--at", "0"], '--at must be a positive integer, got "0"'],
      [["grid", "--hops", "1,-2"], "--hops takes a comma-separated list of whole milliseconds"],
      [["grid", "--resume", "/nonexistent", "--at", "5"], "--resume continues a grid with its own parameters"],
      [["map", "/nonexistent"], "a grid is named by its folder"],
    ] as const) {
      const r = fleetCli([...args]);
      expect(r.code).toBe(2);
      const err = r.err.trim();
      expect(err.split("\n")).toHaveLength(1);
      expect(err).toContain(said);
    }
  });
});

/** A model document from synthetic points (what measureModel writes, without measuring). */
function syntheticModel(truths: Record<string, Truth>, rates: number[], seed: number, sd = 0.004): ModelDoc {
  const all = Object.entries(truths).flatMap(([t, truth], i) => points(t, truth, rates, 2, seed + i, { sd }));
  const params: ModelDoc["params"] = { rates, duration: "6s", warmup: "2s", repeat: 2, api: null, fleet_size: 15, hop_latency_ms: null, at: Math.max(...rates), price: null };
  return {
    schema_version: 1, kind: "model", created_at: new Date().toISOString(), seed, params, targets: Object.keys(truths),
    blocks: [], points: all, ...analyseModel(all, Object.keys(truths), params),
  } as ModelDoc;
}

const lean = (f: number, m: number): Truth => ({ "yoga-gateway": { fixed: f, marginal: m }, k6: { fixed: 0.08, marginal: 0.0009 } });

describe("the reports in headless Chromium", () => {
  test("the model's page: points, fit and band per target, the crossing marked, no errors, no requests", async () => {
    const doc = syntheticModel({ "case1b · rest-gateway": lean(0.2, 0.003), "case2 · yoga-gateway": lean(0.5, 0.001) }, [50, 100, 200, 300], 5, 0.002);
    expect(doc.crossovers[0].rate).toBeGreaterThan(120);
    expect(doc.crossovers[0].rate).toBeLessThan(180);
    const path = writeModel(config, doc);
    const { html, markdown } = writeModelReport(config, path, quiet);
    const md = readFileSync(markdown, "utf8");
    expect(md).toContain("## What it found");
    expect(md).toContain("cost the same CPU at");
    expect(md).toContain("no price given: ranked by CPU-hours alone");
    const page = await openPage(html, 1280);
    try {
      expect(Number(await page.page.evaluate(() => document.body.dataset.charts))).toBeGreaterThanOrEqual(2);
      expect(Number(await page.page.evaluate(() => document.body.dataset.bands))).toBeGreaterThanOrEqual(2);
      expect(Number(await page.page.evaluate(() => document.body.dataset.crossmarks))).toBe(1);
      expect(await page.page.$eval("#found", (e) => e.textContent)).toContain("cost the same CPU at");
      expect(page.errors).toEqual([]);
      expect(page.requests).toEqual([]);
    } finally {
      await page.browser.close();
    }
  });

  test("the decision map: one decided cell, one tie, one where no target meets the SLO, each labelled in words", async () => {
    const dir = join(config.resultsDir, "grid-synthetic");
    mkdirSync(dir, { recursive: true });
    const slo = parseSlo("p99=200ms");
    const params: GridParams = {
      fleet: [15, 150, 1500], hops: [0], at: 100, quick: true, repeat: 2, duration: "5s", warmup: "1s", slo,
      capacity: { step: "5s", warmup: "1s", precision: 0.25, max_factor: 2 }, cases: ["case1b", "case2"], gateways: [], runtimes: ["bun"], api: null, price: null, seed: 1,
    };
    const [a, b] = ["case1b · rest-gateway", "case2 · yoga-gateway"];
    const grid: GridDoc = { schema_version: 1, kind: "grid", created_at: "", params, targets: [a, b], cells: [{ fleet: 15, hop_ms: 0, file: cellFile(15, 0) }, { fleet: 150, hop_ms: 0, file: cellFile(150, 0) }, { fleet: 1500, hop_ms: 0, file: cellFile(1500, 0) }], estimate_seconds: 0 };
    const cell = (fleet: number, model: ModelDoc | null, capacity: number): CellDoc => ({
      schema_version: 1, kind: "grid-cell", fleet, hop_ms: 0, at: 100, started_at: "", finished_at: "", content_hash: null, slo,
      capacities: [a, b].map((target) => ({ target, capacity, bracket: [capacity, null], note: null, steps: 3 })), eligible: capacity >= 100 ? [a, b] : [], model,
    });
    // N = 15: b costs half of a at 100/s (decided); N = 150: the same line twice, noisy (a tie); N = 1500: capacity 20 < 100.
    const decided = cell(15, syntheticModel({ [a]: lean(0.4, 0.004), [b]: lean(0.2, 0.002) }, [50, 100], 7), 300);
    const tied = cell(150, syntheticModel({ [a]: lean(0.3, 0.002), [b]: lean(0.3, 0.002) }, [50, 100], 8, 0.03), 300);
    const none = cell(1500, null, 20);
    writeFileSync(join(dir, "grid.json"), JSON.stringify(grid));
    for (const c of [decided, tied, none]) writeFileSync(join(dir, cellFile(c.fleet, 0)), JSON.stringify(c));
    expect(decide(decided, 15, 0, 100).verdict).toBe("decided");
    expect(decide(decided, 15, 0, 100).cheapest).toBe(b);
    expect(decide(tied, 150, 0, 100).verdict).toBe("tie");
    expect(decide(none, 1500, 0, 100).words).toBe("no target meets p99 ≤ 200 ms at 100/s");
    const { html, markdown } = writeMapReport(dir, {}, quiet);
    const md = readFileSync(markdown, "utf8");
    expect(md).toMatch(/\| N = 15 \| case2 yoga-gateway: 0\.5\d× case1b rest-gateway's CPU-hours \(0\.\d\d–0\.\d\d\) \|/);
    expect(md).toMatch(/\| N = 150 \| tie: /);
    const page = await openPage(html, 1024, 0);
    try {
      expect(await page.page.evaluate(() => [document.body.dataset.cells, document.body.dataset.decided, document.body.dataset.ties])).toEqual(["3", "1", "1"]);
      const words = await page.page.$$eval("#map td.cell", (cells) => cells.map((c) => c.textContent));
      expect(words[0]).toMatch(/^decidedcase2 yoga-gateway: 0\.5\d×/);
      expect(words[1]).toStartWith("tietie: ");
      expect(words[2]).toBe("none meets the SLOno target meets p99 ≤ 200 ms at 100/s");
      expect(page.errors).toEqual([]);
      expect(page.requests).toEqual([]);
      await page.page.screenshot({ path: html.replace(/\.html$/, ".png"), fullPage: true });
    } finally {
      await page.browser.close();
    }
  });
});

// Real processes below: run under the machine lock (flock /tmp/fleetbench-machine.lock).
describe("real", () => {
  test("a short real model of case1b and case2 at two rates: positive fixed and marginal parts, per component", async () => {
    const { doc } = await measureModel(config, { rates: [20, 60], duration: "6s", warmup: "2s", repeat: 2, seed: 19, cases: ["case1b", "case2"], gateways: [] }, quiet);
    const path = writeModel(config, doc);
    writeModelReport(config, path, quiet);
    console.error(readFileSync(path.replace(/\.json$/, ".md"), "utf8").split("\n## Memory")[0]);
    expect(doc.targets).toEqual(["case1b · rest-gateway", "case2 · yoga-gateway"]);
    for (const m of doc.models) {
      expect(m.total!.n).toBe(4);
      expect(m.total!.fixed).toBeGreaterThan(0);
      expect(m.total!.marginal).toBeGreaterThan(0);
      expect(m.components.gateway.marginal).toBeGreaterThan(0);
      expect(m.components["data services"].fixed).toBeGreaterThan(0);
      expect(m.pss.every((p) => (p.total_bytes ?? 0) > 0)).toBe(true);
    }
    expect(doc.blocks).toHaveLength(4);
  });

  test("a tiny real grid, interrupted after its first cell, then resumed: the finished cell is kept, only the other measured", async () => {
    const params: GridParams = {
      fleet: [5, 15], hops: [0], at: 20, quick: true, repeat: 1, duration: "3s", warmup: "1s", slo: parseSlo("p99=200ms"),
      capacity: { step: "5s", warmup: "1s", precision: 0.5, max_factor: 2 }, cases: ["case2"], gateways: [], runtimes: ["bun"], api: null, price: null, seed: 3,
    };
    let dir = "";
    const lines: string[] = [];
    // Ctrl-C as soon as the first cell's file is written.
    const watcher = setInterval(() => {
      if (dir && existsSync(join(dir, cellFile(5, 0)))) {
        process.emit("SIGINT");
        clearInterval(watcher);
      }
    }, 50);
    const first = await runGrid(config, params, null, (line) => {
      lines.push(line);
      dir ||= /^grid folder: ([^;\s]+)/.exec(line)?.[1] ?? "";
    });
    clearInterval(watcher);
    expect(first.complete).toBe(false);
    expect(first.interrupted).toBe(true);
    expect(readCells(first.dir).map((c) => c.fleet)).toEqual([5]);
    const kept = readFileSync(join(first.dir, cellFile(5, 0)), "utf8");
    const resumed: string[] = [];
    const second = await runGrid(config, null, first.dir, (line) => resumed.push(line));
    expect(second.complete).toBe(true);
    expect(readFileSync(join(first.dir, cellFile(5, 0)), "utf8")).toBe(kept);
    expect(resumed.some((l) => l.includes("1 cell(s) already finished, kept"))).toBe(true);
    expect(resumed.filter((l) => l.includes("########## cell:"))).toEqual(["\n########## cell: fleet of 15 robots, 0 ms per internal hop ##########"]);
    const cells = readCells(first.dir);
    expect(cells.map((c) => c.fleet)).toEqual([5, 15]);
    expect(cells.every((c) => c.capacities[0].capacity !== null && c.capacities[0].capacity >= 20)).toBe(true);
    expect(cells.every((c) => c.model?.models[0].total !== null)).toBe(true);
    const { markdown } = writeMapReport(first.dir, {}, quiet);
    expect(readFileSync(markdown, "utf8")).toContain("only case2 yoga-gateway meets the SLO");
  });
});
